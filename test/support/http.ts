import { createHmac } from 'node:crypto';

/** A response as the tests look at it. */
export interface TestResponse {
  status: number;
  body: any;
  text: string;
  headers: Headers;
  setCookies: string[];
}

/** A tiny HTTP client with a cookie jar, over the real network stack (fetch on 127.0.0.1). */
export class Client {
  constructor(
    readonly baseUrl: string,
    readonly jar = new Map<string, string>(),
  ) {}

  /** The same browser talking to another server (the cookie jar is shared). */
  at(baseUrl: string): Client {
    return new Client(baseUrl, this.jar);
  }

  get(path: string, headers: Record<string, string> = {}): Promise<TestResponse> {
    return this.request('GET', path, undefined, headers);
  }

  post(path: string, body?: unknown, headers: Record<string, string> = {}): Promise<TestResponse> {
    return this.request('POST', path, body, headers);
  }

  /** Posts an urlencoded form (as an HTML form does, without fetch metadata) with the client's cookies. */
  postForm(path: string, fields: Record<string, string>): Promise<TestResponse> {
    return this.request('POST', path, new URLSearchParams(fields));
  }

  /** The raw `Cookie` header this client sends. */
  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<TestResponse> {
    const sent: Record<string, string> = { ...headers };
    if (this.jar.size > 0 && !('cookie' in sent)) sent.cookie = this.cookieHeader();
    const form = body instanceof URLSearchParams;
    if (body !== undefined) sent['content-type'] = form ? 'application/x-www-form-urlencoded' : 'application/json';
    const res = await fetch(this.baseUrl + path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : form ? body.toString() : JSON.stringify(body),
      redirect: 'manual',
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) this.store(line);
    return { status: res.status, body: parsed, text, headers: res.headers, setCookies };
  }

  private store(line: string): void {
    const [pair, ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attrs.some((a) => {
      const [k, v] = a.trim().split('=');
      return k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now();
    });
    if (expired || value === '') this.jar.delete(name);
    else this.jar.set(name, value);
  }
}

/** The Set-Cookie line for a cookie name, if the response sent one. */
export function setCookieFor(res: TestResponse, name: string): string | undefined {
  return res.setCookies.find((c) => c.startsWith(`${name}=`));
}

/** A session id signed as express-session signs it (`s:<id>.<HMAC-SHA256>`), URL-encoded as a cookie value. */
export function signedCookie(sid: string, secret: string): string {
  return encodeURIComponent(`s:${sid}.${createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '')}`);
}

/** The session id inside a signed cookie value (`s:<id>.<signature>`, URL-encoded). */
export function sidOf(cookieValue: string | undefined): string | undefined {
  if (!cookieValue) return undefined;
  const raw = decodeURIComponent(cookieValue);
  if (!raw.startsWith('s:')) return undefined;
  return raw.slice(2, raw.lastIndexOf('.'));
}

/** The CSRF token in a page's hidden `_csrf` field. */
export function tokenIn(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error('the page carries no CSRF token');
  return match[1];
}
