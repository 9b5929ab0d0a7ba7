import { formsStateFor, formsStateOf } from './forms-state.js';

/** Adds a flash message of a type to a session. */
export function addFlash(session: object, type: string, message: unknown): void {
  const state = formsStateFor(session);
  const flash = (state.flash ??= {});
  (flash[type] ??= []).push(message);
}

/**
 * Takes the flash messages of one type (an array) or of every type (a record) out of a session. An empty flash
 * is read without touching the session, so reading it never creates a session or sets a cookie.
 */
export function takeFlashFrom(session: object | undefined, type?: string): unknown[] | Record<string, unknown[]> {
  const state = formsStateOf(session);
  const flash = state?.flash;
  if (type === undefined) {
    if (!state || !flash) return {};
    state.flash = undefined;
    return flash;
  }
  const messages = flash?.[type];
  if (!state || !flash || !messages) return [];
  delete flash[type];
  if (Object.keys(flash).length === 0) state.flash = undefined;
  return messages;
}
