// Adds the key the library itself uses to express-session's SessionData.
declare module 'express-session' {
  interface SessionData {
    /** The logged-in user's id, set by `SessionService.logIn()`. */
    userId?: string | number;
  }
}

export {};
