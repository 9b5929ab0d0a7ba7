import type { ModulesContainer } from '@nestjs/core';

// Nest's own metadata keys (stable since Nest 5): constructor types, @Inject() overrides, @Inject() properties.
const PARAMTYPES = 'design:paramtypes';
const SELF_DECLARED_DEPS = 'self:paramtypes';
const PROPERTY_DEPS = 'self:properties_metadata';

/** The parts of Nest's InstanceWrapper the scan reads. */
interface WrapperLike {
  name?: unknown;
  metatype?: unknown;
  inject?: unknown[] | null;
}

/** The parts of Nest's Module the scan reads; `middlewares` exists since Nest 8. */
interface ModuleLike {
  providers?: Map<unknown, WrapperLike>;
  controllers?: Map<unknown, WrapperLike>;
  injectables?: Map<unknown, WrapperLike>;
  middlewares?: Map<unknown, WrapperLike>;
}

type Class = abstract new (...args: never[]) => unknown;

/**
 * The name of the first provider, controller, enhancer (guard, interceptor, pipe, filter), middleware or
 * module that declares `service` (or a subclass) as a dependency: in its constructor, as an `@Inject()`
 * property, or in a factory's `inject` (which is also how `useExisting` aliases are kept). Undefined
 * when nothing does. Run after every module's `configure()`, so middleware classes are registered.
 */
export function findDependant(modules: ModulesContainer, service: Class): string | undefined {
  for (const module of modules.values() as Iterable<ModuleLike>) {
    for (const collection of [module.providers, module.controllers, module.injectables, module.middlewares]) {
      if (!collection) continue;
      for (const wrapper of collection.values()) {
        if (dependsOn(wrapper, service))
          return typeof wrapper.name === 'string' ? wrapper.name : 'an anonymous provider';
      }
    }
  }
  return undefined;
}

function dependsOn(wrapper: WrapperLike, service: Class): boolean {
  if (Array.isArray(wrapper.inject)) return wrapper.inject.some((token) => isService(token, service));
  const type = wrapper.metatype;
  if (typeof type !== 'function') return false;
  const params = (Reflect.getMetadata(PARAMTYPES, type) as unknown[] | undefined) ?? [];
  const declared = (Reflect.getMetadata(SELF_DECLARED_DEPS, type) as { param: unknown }[] | undefined) ?? [];
  const properties = (Reflect.getMetadata(PROPERTY_DEPS, type) as { type: unknown }[] | undefined) ?? [];
  return (
    params.some((token) => isService(token, service)) ||
    declared.some((dep) => isService(dep.param, service)) ||
    properties.some((dep) => isService(dep.type, service))
  );
}

function isService(token: unknown, service: Class): boolean {
  if (token && typeof token === 'object') {
    // `forwardRef(() => X)` anywhere, `{ token, optional }` in a factory's inject.
    if ('forwardRef' in token && typeof token.forwardRef === 'function') {
      return isService((token.forwardRef as () => unknown)(), service);
    }
    if ('token' in token) return isService(token.token, service);
    return false;
  }
  return typeof token === 'function' && (token === service || token.prototype instanceof service);
}
