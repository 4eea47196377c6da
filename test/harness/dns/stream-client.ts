/**
 * A DNS-over-TCP test client (RFC 7766 framing) on a real loopback `net` socket pair: the server
 * side is handed to the code under test, the client side collects framed replies.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

/** The client end of a loopback connection. */
export interface StreamClient {
  readonly socket: Socket;
  /** Replies received so far, without their length prefixes. */
  readonly frames: Uint8Array[];
  /** Resolves when the server ended or closed the connection. */
  readonly closed: Promise<void>;
  /** Writes `msg` with its two-byte length prefix. */
  send(msg: Uint8Array): void;
  /** Resolves once at least `n` frames have arrived (rejects if the connection closes first). */
  waitFrames(n: number): Promise<Uint8Array[]>;
}

/** Length-prefixes a message (RFC 1035 §4.2.2). */
export function frame(msg: Uint8Array): Buffer {
  const b = Buffer.alloc(2 + msg.length);
  b.writeUInt16BE(msg.length, 0);
  b.set(msg, 2);
  return b;
}

/** A listening loopback server whose accepted sockets go to `accept`, and a way to open clients. */
export async function loopback(accept: (s: Socket) => void): Promise<{ server: Server; open(): Promise<StreamClient>; close(): Promise<void> }> {
  // Half-open allowed, as the gateway's endpoint must: answers may follow the client's FIN.
  const server = createServer({ allowHalfOpen: true }, accept);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const clients: Socket[] = [];
  return {
    server,
    open: async () => {
      const socket = connect({ host: '127.0.0.1', port });
      clients.push(socket);
      await new Promise<void>((r) => socket.once('connect', () => r()));
      return streamClient(socket);
    },
    close: async () => {
      for (const c of clients) c.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function streamClient(socket: Socket): StreamClient {
  const frames: Uint8Array[] = [];
  let buf = Buffer.alloc(0);
  let isClosed = false;
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
      const len = buf.readUInt16BE(0);
      frames.push(new Uint8Array(buf.subarray(2, 2 + len)));
      buf = buf.subarray(2 + len);
    }
    wake();
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => {
    const done = () => {
      isClosed = true;
      wake();
      resolve();
    };
    socket.once('end', done);
    socket.once('close', done);
  });
  return {
    socket,
    frames,
    closed,
    send: (msg) => socket.write(frame(msg)),
    waitFrames: (n) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (frames.length >= n) return resolve(frames.slice());
          if (isClosed) return reject(new Error(`connection closed after ${frames.length} of ${n} frames`));
          waiters.push(check);
        };
        check();
      }),
  };
}

/** Yields to the event loop until `cond` holds; fails after `turns` turns (a hang guard, not a timing). */
export async function until(cond: () => boolean, what: string, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`gave up waiting for ${what}`);
}
