// The sample's own session keys, added the way every app adds them.
import 'express-session';

declare module 'express-session' {
  interface SessionData {
    views: number;
    username: string;
  }
}
