/**
 * A tiny authoritative DNS server for tests, on a loopback address only (127.0.0.1 unless told
 * another 127/8 address; UDP and TCP on the same port),
 * written with dns-packet and independent of the code under test. It serves a fixed record list;
 * unknown names get NXDOMAIN. Over UDP it truncates like a real server: an answer larger than 512
 * bytes (or the query's EDNS size) goes out with TC and no answers, so the client must use TCP.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import dnsPacket, { type Answer, type DecodedPacket } from 'dns-packet';

/** What the resolver does with a query. */
export type TestResolverAction = { answers: Answer[]; rcode?: number } | 'drop';

/** Options of {@link startTestResolver}. */
export interface TestResolverOptions {
  /** Records served; the answer is every record with the question's name (any case) and type. */
  records?: Answer[];
  /** Overrides the record lookup for special behaviour (drop, SERVFAIL, …); undefined = normal lookup. */
  handler?: (q: DecodedPacket, transport: 'udp' | 'tcp') => TestResolverAction | undefined;
  /** Listen on this port instead of a free one (UDP and TCP). */
  port?: number;
  /**
   * Listen on this loopback address (default 127.0.0.1). Only 127.0.0.0/8 is accepted: inside a
   * private network namespace several resolvers can then share port 53, which resolv.conf
   * requires (it has no port syntax).
   */
  address?: string;
}

/** A running test resolver. */
export interface TestResolver {
  readonly address: string;
  readonly port: number;
  /** Every query received, in order. */
  readonly log: { name: string; type: string; transport: 'udp' | 'tcp'; id: number }[];
  close(): Promise<void>;
}

function answer(q: DecodedPacket, records: Answer[], handler: TestResolverOptions['handler'], transport: 'udp' | 'tcp'): Buffer | undefined {
  const question = q.questions?.[0];
  if (question === undefined) return undefined;
  const action: TestResolverAction = handler?.(q, transport) ?? {
    answers: records.filter((r) => r.name.toLowerCase() === question.name.toLowerCase() && (r.type === question.type || question.type === ('ANY' as never))),
    rcode: records.some((r) => r.name.toLowerCase() === question.name.toLowerCase()) ? 0 : 3,
  };
  if (action === 'drop') return undefined;
  const opt = (q.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize: number } | undefined;
  const build = (answers: Answer[], tc: boolean): Buffer => {
    const b = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (q.flags! & dnsPacket.RECURSION_DESIRED) | (tc ? dnsPacket.TRUNCATED_RESPONSE : 0),
      questions: [question],
      answers,
    });
    b[3] = (b[3]! & 0xf0) | ((action.rcode ?? 0) & 0x0f);
    return b;
  };
  const full = build(action.answers, false);
  const limit = Math.max(512, opt?.udpPayloadSize ?? 512);
  return transport === 'udp' && full.length > limit ? build([], true) : full;
}

/** Starts a resolver on a loopback address (never any other address). */
export async function startTestResolver(opts: TestResolverOptions = {}): Promise<TestResolver> {
  const address = opts.address ?? '127.0.0.1';
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)) throw new Error(`test resolver: ${address} is not a loopback address`);
  const records = opts.records ?? [];
  const log: TestResolver['log'] = [];
  const decodeLogged = (b: Buffer, transport: 'udp' | 'tcp'): DecodedPacket | undefined => {
    try {
      const p = dnsPacket.decode(b);
      const q = p.questions?.[0];
      log.push({ name: q?.name ?? '', type: q?.type ?? '', transport, id: p.id ?? 0 });
      return p;
    } catch {
      return undefined;
    }
  };
  for (let tries = 0; ; tries++) {
    const udp = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(opts.port ?? 0, address, () => resolve());
    });
    const port = udp.address().port;
    const sockets = new Set<Socket>();
    const tcp: Server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
      let buf = Buffer.alloc(0);
      s.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + msg.length);
          const p = decodeLogged(msg, 'tcp');
          const r = p && answer(p, records, opts.handler, 'tcp');
          if (r !== undefined) {
            const len = Buffer.alloc(2);
            len.writeUInt16BE(r.length, 0);
            s.write(Buffer.concat([len, r]));
          }
        }
      });
    });
    const listening = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, address, () => resolve(true));
    });
    if (!listening) {
      udp.close();
      if (tries < 20 && opts.port === undefined) continue;
      throw new Error(`test resolver: TCP port ${port} is taken`);
    }
    udp.on('message', (m, rinfo) => {
      const p = decodeLogged(m, 'udp');
      const r = p && answer(p, records, opts.handler, 'udp');
      if (r !== undefined) udp.send(r, rinfo.port, rinfo.address);
    });
    return {
      address,
      port,
      log,
      close: async () => {
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => tcp.close(() => resolve()));
        await new Promise<void>((resolve) => udp.close(() => resolve()));
      },
    };
  }
}

/** Sends one UDP query to `port` on 127.0.0.1 and resolves with the first datagram back. */
export async function udpExchange(port: number, msg: Uint8Array, timeoutMs = 10_000): Promise<Uint8Array> {
  const s: UdpSocket = createSocket('udp4');
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('udpExchange: no answer')), timeoutMs);
      s.once('message', (m) => {
        clearTimeout(t);
        resolve(new Uint8Array(m));
      });
      s.send(msg, port, '127.0.0.1');
    });
  } finally {
    s.close();
  }
}
