import type { Store } from 'express-session';

/** Stores the module created itself, with how to close them; a user's store is never closed. */
const ownedStores = new WeakMap<Store, () => unknown>();

/** Registers a store the module created (the embedded store, redisStore(), ...), so that app.close() closes it. */
export function ownStore(store: Store, close: () => unknown): void {
  ownedStores.set(store, close);
}

/** Closes the store if the module created it; a store the app made itself is left alone. */
export async function closeOwnedStore(store: Store): Promise<void> {
  const close = ownedStores.get(store);
  ownedStores.delete(store);
  await close?.();
}
