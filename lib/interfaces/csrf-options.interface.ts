/** Options of `CsrfGuard` and the CSRF token (`SessionModuleOptions.csrf`). */
export interface CsrfOptions {
  /**
   * Origins (`https://admin.example.com`, scheme, host and port) whose state-changing requests pass without a
   * token, even when the browser marks them cross-site.
   * @default none
   */
  trustedOrigins?: string[];
  /**
   * The request header that carries the token (single-page apps send it there).
   * @default 'x-csrf-token'
   */
  header?: string;
  /**
   * The body field that carries the token (HTML forms, urlencoded or JSON).
   * @default '_csrf'
   */
  field?: string;
}
