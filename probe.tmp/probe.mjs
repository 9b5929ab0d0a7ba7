import 'reflect-metadata';
import { Controller, Get, Module, Session as NestSession } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import session from 'express-session';
import inject from 'light-my-request';
import { EmbeddedStore, Session, SessionModule } from 'nest-express-session';
import { SessionModule as NestjsSessionModule } from 'nestjs-session';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const variant = process.argv[2];
const N = Number(process.argv[3] ?? 20000);

function ctrl(useOurs) {
  class C { count(s) { s.views = (s.views ?? 0) + 1; return { views: s.views }; } }
  const dec = useOurs ? Session() : NestSession();
  dec(C.prototype, 'count', 0);
  Get()(C.prototype, 'count', Object.getOwnPropertyDescriptor(C.prototype, 'count'));
  Reflect.defineMetadata('design:paramtypes', [Object], C.prototype, 'count');
  Controller()(C);
  return C;
}
async function build(variant) {
let imports = [], controller, main;
if (variant === 'raw') { controller = ctrl(false); main = (app) => app.use(session({ secret: SECRET, resave: false, saveUninitialized: false, store: new EmbeddedStore({ maxSessions: 100000 }) })); }
if (variant === 'module') { controller = ctrl(true); imports = [SessionModule.forRoot({ session: { secret: SECRET }, embeddedStore: { maxSessions: 100000 } })]; }
if (variant === 'module-nestdec') { controller = ctrl(false); imports = [SessionModule.forRoot({ session: { secret: SECRET }, embeddedStore: { maxSessions: 100000 } })]; }
if (variant === 'nestjs') { controller = ctrl(false); imports = [NestjsSessionModule.forRoot({ session: { secret: SECRET, resave: false, saveUninitialized: false, store: new EmbeddedStore({ maxSessions: 100000 }) }, forRoutes: ['{*path}'] })]; }
class Root {}
Module({ imports, controllers: [controller] })(Root);
const app = await NestFactory.create(Root, { logger: ['error'] });
main?.(app);
await app.init();
const handler = app.getHttpAdapter().getInstance();
const first = await inject(handler, { method: 'GET', url: '/' });
const cookie = String(first.headers['set-cookie']).split(';')[0];
const run = async (n) => { for (let i = 0; i < n; i++) { const r = await inject(handler, { method: 'GET', url: '/', headers: { cookie } }); if (r.statusCode !== 200) throw new Error(r.body); } };
return { variant, run, total: 0 };
}
const names = (process.argv[2] ?? 'raw,module,nestjs').split(',');
const apps = [];
for (const n of names) apps.push(await build(n));
for (const a of apps) await a.run(3000);
const batches = Number(process.argv[3] ?? 200), size = 100;
for (let b = 0; b < batches; b++) {
  for (const a of (b % 2 ? apps : [...apps].reverse())) {
    const t0 = process.hrtime.bigint();
    await a.run(size);
    a.total += Number(process.hrtime.bigint() - t0);
  }
}
const base = apps[0].total;
console.log(apps.map((a) => `${a.variant} ${(a.total / batches / size / 1000).toFixed(1)}us ratio ${(base / a.total).toFixed(3)}`).join(' | '));
process.exit(0);
