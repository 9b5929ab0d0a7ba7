import type { ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

/** The HTTP request behind an execution context; a clear error for contexts not supported yet. */
export function requestOf(context: ExecutionContext): Request {
  const type = context.getType<string>();
  if (type === 'http') return context.switchToHttp().getRequest<Request>();
  throw new Error(`nest-express-session: sessions are available in HTTP handlers only; this is a '${type}' context.`);
}
