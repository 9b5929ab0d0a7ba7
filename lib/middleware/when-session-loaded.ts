import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Wraps a middleware that reads `req.session` (Passport's `passport.session()`, for example) so that it
 * runs only when the request has a loaded session. A request whose session the store failed to load then
 * gets the module's 503 instead of the middleware's 500, and a route excluded from the session is left
 * alone. Mount the result after the session middleware: through a module's `configure(consumer)`, not
 * with `app.use()` in `main.ts` (that runs before it).
 */
export function whenSessionLoaded(middleware: RequestHandler): RequestHandler {
  return function whenSessionLoaded(req: Request, res: Response, next: NextFunction): void {
    if (req.session) middleware(req, res, next);
    else next();
  };
}
