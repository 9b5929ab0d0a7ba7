import type { Subscription } from 'rxjs';
import type { Server, Socket } from 'socket.io';
import type { ResolvedSessionModuleOptions } from '../resolve-options.js';
import { handleOf } from '../stores/session-record.js';
import { controlsOf } from './session-controls.js';

/** The events after which a session's sockets must not keep its login. */
const ENDING = new Set(['revoked', 'evicted', 'loggedOut']);

/** The room holding the sockets opened with the session of this handle. */
export function sessionRoom(handle: string): string {
  return `session:${handle}`;
}

/**
 * Joins each socket opened with a logged-in session to its session's room, and disconnects that room when
 * this instance revokes, evicts or logs the session out. Other instances' sockets are not reached: their next
 * message finds the session gone in the shared store. Unsubscribe when the server closes.
 */
export function disconnectEndedSessions(server: Server, options: ResolvedSessionModuleOptions): Subscription {
  const join = (socket: Socket): void => {
    const handle = handleOf((socket.request as { session?: object }).session);
    if (handle !== undefined) void socket.join(sessionRoom(handle));
  };
  server.on('connection', join);
  server.on('new_namespace', (namespace) => namespace.on('connection', join));
  return controlsOf(options).events.observable.subscribe((event) => {
    if (!ENDING.has(event.type) || event.handle === undefined) return;
    const room = sessionRoom(event.handle);
    for (const namespace of namespacesOf(server)) namespace.in(room).disconnectSockets(true);
  });
}

/** Every namespace of the server (the main one and those created since). */
function namespacesOf(server: Server): Iterable<ReturnType<Server['of']>> {
  return (server as unknown as { _nsps: Map<string, ReturnType<Server['of']>> })._nsps.values();
}
