/**
 * A tiny Ethernet hub on a Unix stream socket, written independently of vnetkit, for testing
 * the harness itself: every frame received on one connection is sent to all the others. It
 * speaks the same framings as `tap-relay` (protocols.md §6 qemu/stdio, §1 vmnet server side,
 * §2.6 hybrid-vsock CONNECT line) and can make the relay's life hard on purpose: `chopSeed`
 * splits every write into random pieces sent apart, `stallEvery` stops reading for a while so
 * the relay's writes fill the socket buffer.
 * @module
 */
import { createServer, type Server, type Socket } from 'node:net';
import { rmSync } from 'node:fs';
import type { Framing } from './netns.js';

/** Largest Ethernet frame either side may send: an IPv4 packet of 65535 plus 14 header bytes. */
const MAX_FRAME = 65535 + 14;
const MIN_FRAME = 14;
const VMNET_INIT_LEN = 49; // protocols.md §1.3
const VMNET_COMMAND_LEN = 41; // §1.4

/** Hub behaviour. */
export interface FrameHubOptions {
  readonly framing: Framing;
  /** Expect `CONNECT <port>\n` first; answer `OK <port>\n` (or close, with `refuseVsock`). */
  readonly hybridVsockPort?: number;
  readonly refuseVsock?: boolean;
  /** vmnet: the version in our Init (default 22). */
  readonly vmnetVersion?: number;
  /** vmnet: the 258-byte response to the `index`-th command (default: {@link vifResponse} with MAC 02:50:00:00:00:07+index). */
  readonly respond?: (command: Buffer, index: number) => Buffer;
  /** Split every write into pieces of 1..2048 bytes, one per event-loop turn (seeded, reproducible). */
  readonly chopSeed?: number;
  /** Stop reading a connection for `stallMs` after every `stallEvery` frames from it. */
  readonly stallEvery?: number;
  readonly stallMs?: number;
}

/** Per-connection counters. */
export interface HubConnectionStats {
  frames: number;
  maxFrame: number;
}

/** A running hub. */
export interface FrameHub {
  readonly path: string;
  /** Protocol violations seen (bad lengths, bad handshake); a correct relay causes none. */
  readonly errors: string[];
  /** vmnet commands received, in order. */
  readonly commands: Buffer[];
  /** Hybrid-vsock lines received, without the newline. */
  readonly vsockLines: string[];
  /** Counters per connection, in accept order. */
  readonly stats: HubConnectionStats[];
  /** Ends every client connection (the relays see EOF). */
  disconnectAll(): void;
  /** Stops listening, drops all connections, removes the socket file. */
  close(): Promise<void>;
}

/** The 49-byte vmnet Init with `version` (protocols.md §1.3). */
export function vmnetInit(version = 22): Buffer {
  const b = Buffer.alloc(VMNET_INIT_LEN);
  b.write('VMN3T', 0, 'ascii');
  b.writeUInt32LE(version, 5);
  b.write('0123456789'.repeat(4), 9, 'ascii');
  return b;
}

/** A 258-byte Vif response (§1.5): type 1, MTU, max packet size, MAC. */
export function vifResponse(mtu: number, mac: string, maxPacket = mtu + 50): Buffer {
  const b = Buffer.alloc(258);
  b[0] = 1;
  b.writeUInt16LE(mtu, 1);
  b.writeUInt16LE(maxPacket, 3);
  Buffer.from(mac.split(':').map((h) => parseInt(h, 16))).copy(b, 5);
  return b;
}

/** A 258-byte Disconnect response (§1.5): type 2, reason length, reason. */
export function disconnectResponse(reason: string): Buffer {
  const b = Buffer.alloc(258);
  b[0] = 2;
  b[1] = b.write(reason, 2, 255, 'utf8');
  return b;
}

/** Starts a hub listening on `path` (an existing file there is replaced). */
export async function startFrameHub(path: string, opts: FrameHubOptions): Promise<FrameHub> {
  rmSync(path, { force: true });
  const headerLen = opts.framing === 'qemu' ? 4 : 2;
  const state = { errors: [] as string[], commands: [] as Buffer[], vsockLines: [] as string[], stats: [] as HubConnectionStats[] };
  const live = new Set<Peer>();
  let rng = (opts.chopSeed ?? 1) >>> 0;
  const nextRandom = (): number => (rng = (Math.imul(rng, 1664525) + 1013904223) >>> 0);

  interface Peer {
    socket: Socket;
    inFramePhase: boolean; // past the handshakes: frames flow to it
    queue: Buffer[]; // chopped pieces waiting for their turn
    pumping: boolean;
  }

  const send = (peer: Peer, bytes: Buffer): void => {
    if (opts.chopSeed === undefined) {
      peer.socket.write(bytes);
      return;
    }
    for (let off = 0; off < bytes.length; ) {
      const n = Math.min(bytes.length - off, 1 + (nextRandom() % 2048));
      peer.queue.push(bytes.subarray(off, off + n));
      off += n;
    }
    const pump = (): void => {
      const piece = peer.queue.shift();
      if (!piece || peer.socket.destroyed) {
        peer.pumping = false;
        return;
      }
      peer.socket.write(piece);
      setImmediate(pump);
    };
    if (!peer.pumping) {
      peer.pumping = true;
      setImmediate(pump);
    }
  };

  const encode = (frame: Buffer): Buffer => {
    const h = Buffer.alloc(headerLen);
    if (headerLen === 4) h.writeUInt32BE(frame.length);
    else h.writeUInt16LE(frame.length);
    return Buffer.concat([h, frame]);
  };

  const server: Server = createServer((socket) => {
    const index = state.stats.length;
    const stats: HubConnectionStats = { frames: 0, maxFrame: 0 };
    state.stats.push(stats);
    const peer: Peer = { socket, inFramePhase: false, queue: [], pumping: false };
    live.add(peer);
    let buf: Buffer = Buffer.alloc(0);
    let step: 'vsock' | 'init' | 'command' | 'frames' =
      opts.hybridVsockPort !== undefined ? 'vsock' : opts.framing === 'vmnet' ? 'init' : 'frames';
    peer.inFramePhase = step === 'frames';
    const protocolError = (what: string): void => {
      state.errors.push(`connection ${index}: ${what}`);
      socket.destroy();
    };

    socket.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        if (step === 'vsock') {
          const nl = buf.indexOf(0x0a);
          if (nl < 0) return void (buf.length > 32 && protocolError('CONNECT line longer than 32 bytes'));
          const line = buf.subarray(0, nl).toString('ascii');
          buf = buf.subarray(nl + 1);
          state.vsockLines.push(line);
          if (opts.refuseVsock || line !== `CONNECT ${opts.hybridVsockPort}`) return void socket.end();
          socket.write(`OK ${opts.hybridVsockPort}\n`);
          step = opts.framing === 'vmnet' ? 'init' : 'frames';
          peer.inFramePhase = step === 'frames';
        } else if (step === 'init') {
          if (buf.length < VMNET_INIT_LEN) return;
          const init = buf.subarray(0, VMNET_INIT_LEN);
          buf = buf.subarray(VMNET_INIT_LEN);
          if (init.toString('ascii', 0, 5) !== 'VMN3T' || init.readUInt32LE(5) !== 22) {
            return protocolError(`bad client Init ${init.toString('hex')}`);
          }
          socket.write(vmnetInit(opts.vmnetVersion ?? 22));
          step = 'command';
        } else if (step === 'command') {
          if (buf.length < VMNET_COMMAND_LEN) return;
          const command = Buffer.from(buf.subarray(0, VMNET_COMMAND_LEN));
          buf = buf.subarray(VMNET_COMMAND_LEN);
          const n = state.commands.push(command) - 1;
          const mac = `02:50:00:00:00:${(7 + n).toString(16).padStart(2, '0')}`;
          const response = opts.respond?.(command, n) ?? vifResponse(1500, mac);
          socket.write(response);
          if (response[0] !== 1) return void socket.end();
          step = 'frames';
          peer.inFramePhase = true;
        } else {
          if (buf.length < headerLen) return;
          const len = headerLen === 4 ? buf.readUInt32BE(0) : buf.readUInt16LE(0);
          if (len < MIN_FRAME || len > MAX_FRAME) return protocolError(`frame length ${len}`);
          if (buf.length < headerLen + len) return;
          const frame = Buffer.from(buf.subarray(headerLen, headerLen + len));
          buf = buf.subarray(headerLen + len);
          stats.frames++;
          stats.maxFrame = Math.max(stats.maxFrame, len);
          const wire = encode(frame);
          for (const other of live) if (other !== peer && other.inFramePhase) send(other, wire);
          if (opts.stallEvery && stats.frames % opts.stallEvery === 0) {
            socket.pause();
            setTimeout(() => socket.resume(), opts.stallMs ?? 20);
          }
        }
      }
    });
    socket.on('error', () => undefined); // a relay killed mid-write resets; not a hub failure
    socket.on('close', () => live.delete(peer));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });

  return {
    path,
    ...state,
    disconnectAll: () => {
      for (const p of live) p.socket.end();
    },
    close: async () => {
      for (const p of live) p.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
    },
  };
}
