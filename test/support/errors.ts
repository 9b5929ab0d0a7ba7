/**
 * A callback's error as a promise's rejection reason: the error itself when it is an `Error`, else an `Error`
 * that says what was passed (store callbacks type their error as `unknown` / `any`).
 */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
