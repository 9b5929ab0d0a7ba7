import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';

// socket.io clients for the gateway tests.

/** Opens a socket.io connection; rejects with the server's `connect_error`. */
export function connectSocket(
  url: string,
  options: { cookie?: string; transports?: ('polling' | 'websocket')[] } = {},
): Promise<Socket> {
  const socket = io(url, {
    transports: options.transports ?? ['polling', 'websocket'],
    extraHeaders: options.cookie ? { cookie: options.cookie } : {},
    reconnection: false,
    forceNew: true,
  });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
}

/** What a gateway answered to one message: its acknowledgement, or the `exception` event Nest emits. */
export type SocketAnswer = { ack: any } | { exception: { status: string; message: string } };

/** Emits a message and waits for the acknowledgement or the exception, whichever comes first. */
export function ask(socket: Socket, event: string, data: unknown = {}): Promise<SocketAnswer> {
  return new Promise((resolve) => {
    const onException = (exception: { status: string; message: string }): void => resolve({ exception });
    socket.once('exception', onException);
    socket.emit(event, data, (ack: unknown) => {
      socket.off('exception', onException);
      resolve({ ack });
    });
  });
}
