import 'express-session';

declare module 'express-session' {
  interface SessionData {
    views: number;
    a: string;
    b: string;
    role: string;
    cart: string[];
    client: string;
    counter: number;
  }
}
