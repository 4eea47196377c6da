/**
 * Whole-network fuzzing: one VirtualNetwork (egress limited to 127.0.0.0/8, DNS upstream a tiny
 * fake resolver on 127.0.0.1), two QEMU-stream guests on the real NIC path:
 *
 * - the victim leases an address over DHCP, then moves 256 KiB up and 512 KiB down over one TCP
 *   connection to a host server on 127.0.0.1 (reached through the host-loopback alias), driven by
 *   one of our own TCP endpoints playing the guest's kernel, and keeps pinging the gateway and
 *   asking DNS (a local name and an upstream one) while the attack runs;
 * - the attacker sends thousands of seeded fast-check frames (`attack-inputs.ts`): mutated golden
 *   frames retargeted at the gateway, the alias and others, checksums mostly repaired; TCP with odd
 *   flags/options/sequence numbers against unknown tuples and against its own live connections
 *   (to a host server, the gateway's DNS-over-TCP, the victim's server); SYN floods; UDP to the
 *   gateway and the alias; DNS queries and DHCP messages with bytes overwritten (including DECLINE
 *   and RELEASE claiming the victim's address); ICMP errors quoting garbage, the attacker's and the
 *   victim's live tuples; IPv4 fragments with overlapping and bogus offsets; ARP; random bytes.
 *   The victim's own NIC also sends blind RST/SYN/ACKs far outside its connection's windows, and
 *   SYN floods from its address.
 *
 * Asserted: nothing escapes as an uncaught exception or unhandled rejection; no `error` event
 * (a stream NIC turns a crash in the frame path into a `nic-failed` error and a detach) and no
 * NIC detached; the victim's transfer arrives intact both ways (SHA-256); every probe during the
 * attack was answered; afterwards the victim renews its lease (same address), pings, and resolves
 * again; every counter in `stats()` is a finite non-negative number; `close()` completes.
 *
 * Reproduce or go longer: VNETKIT_FUZZ_SEED=123 VNETKIT_FUZZ_RUNS=20000 npx tsx --import ./test/setup.ts test/fuzz/network.test.ts
 * (host I/O timing is not seeded, so a failure may need a few runs of its seed to show again).
 * @module
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { VnetError } from '../../src/errors.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { formatIpv4 } from '../../src/wire/address.js';
import { IcmpType, writeIcmp } from '../../src/wire/icmpv4.js';
import { IpProto } from '../../src/wire/ipv4.js';
import { TcpFlag } from '../../src/wire/tcp.js';
import { writeUdp } from '../../src/wire/udp.js';
import { clientFrame, decodeReply, discover, requestSelecting, type Reply } from '../services/dhcp/helpers.js';
import { GuestConn } from '../harness/tcp/guest-pair.js';
import { ipFrame, materialize } from './attack-frames.js';
import { ALIAS, ATTACKER_IP, ATTACKER_MAC, GW, GW_MAC, VICTIM_MAC, recipe, type Context } from './attack-inputs.js';
import { GuestNic } from './guest-nic.js';
import { repairChecksums as repair } from '../wire/golden/fuzz-inputs.js';
import { sha } from '../harness/bytes.js';

const SEED = Number(process.env.VNETKIT_FUZZ_SEED ?? 0x5eed);
const RUNS = Number(process.env.VNETKIT_FUZZ_RUNS ?? 8000);
const UP = 256 * 1024;
const DOWN = 512 * 1024;
const MAGIC = Buffer.from('VICTIM\n');
const UPSTREAM_NAME = 'victim.fuzz.test';
const UPSTREAM_ANSWER = '10.9.8.7';

/** `error` event kinds a misbehaving guest may cause (the rest mean a bug, e.g. `nic-failed`: a crash in the frame path). */
const EXPECTED_ERRORS = new Set(['dhcp-nak', 'address-declined', 'pool-exhausted']);

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Deterministic bytes (a seeded xorshift), so a failure shows the same data again. */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const listen = (s: Server): Promise<number> => new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));
const bindUdp = (s: UdpSocket): Promise<number> => new Promise((r) => s.bind(0, '127.0.0.1', () => r(s.address().port)));

/** Host side: the victim's server, a server that hangs up on everyone, a closed port, a UDP sink, a DNS upstream. */
async function hostSide() {
  const up = bytes(UP, SEED ^ 0x1234);
  const down = bytes(DOWN, SEED ^ 0x4321);
  const victim = { upHash: '', connections: 0, strays: 0 };
  const sockets = new Set<Socket>();
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  };
  const victimServer = createServer((s) => {
    track(s);
    victim.connections++;
    const chunks: Buffer[] = [];
    let size = 0;
    let isVictim: boolean | undefined;
    let sent = 0;
    // The host answers as it receives (two bytes down per byte up), so both directions run
    // through the whole attack; the rest follows the victim's FIN.
    const sendDown = (upTo: number): void => {
      if (upTo > sent) s.write(down.subarray(sent, upTo));
      sent = Math.max(sent, upTo);
    };
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (isVictim === undefined && size >= MAGIC.length) {
        isVictim = Buffer.concat(chunks).subarray(0, MAGIC.length).equals(MAGIC);
        if (!isVictim) {
          victim.strays++;
          s.destroy();
        }
      }
      if (isVictim === true) sendDown(Math.min(DOWN, 2 * (size - MAGIC.length)));
    });
    s.on('end', () => {
      if (isVictim !== true) return void s.destroy();
      victim.upHash = sha(Buffer.concat(chunks).subarray(MAGIC.length));
      sendDown(DOWN);
      s.end();
    });
  });
  const attackServer = createServer((s) => {
    track(s);
    s.resume();
    setTimeout(() => s.destroy(), 100);
  });
  const closedServer = createServer();
  const closed = await listen(closedServer);
  await new Promise((r) => closedServer.close(r));
  const sink = createSocket('udp4');
  let sunk = 0;
  sink.on('message', () => sunk++);
  const resolver = createSocket('udp4');
  let upstreamQueries = 0;
  resolver.on('message', (m, from) => {
    upstreamQueries++;
    let reply: Buffer;
    try {
      const q = dnsPacket.decode(m);
      const question = q.questions?.[0];
      reply = dnsPacket.encode({
        type: 'response',
        id: q.id,
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
        questions: q.questions,
        answers: question?.type === 'A' ? [{ type: 'A', name: question.name, ttl: 60, data: UPSTREAM_ANSWER }] : [],
      });
    } catch {
      // Garbage in, garbage out: the gateway's upstream client must survive it.
      reply = Buffer.from(m).reverse();
    }
    resolver.send(reply, from.port, from.address);
  });
  const ports = {
    victim: await listen(victimServer),
    attack: await listen(attackServer),
    closed,
    sink: await bindUdp(sink),
    resolver: await bindUdp(resolver),
  };
  return {
    ports,
    up,
    down,
    victim,
    counts: () => ({ sunk, upstreamQueries, strays: victim.strays }),
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all([new Promise((r) => victimServer.close(r)), new Promise((r) => attackServer.close(r))]);
      sink.close();
      resolver.close();
    },
  };
}

// ---- the victim's probes --------------------------------------------------------------------------

let xid = 0x5000;

async function dhcp(g: GuestNic, want?: number): Promise<number> {
  const exchange = async (frame: Uint8Array, x: number, type: number, what: string): Promise<Reply> => {
    const p = g.waitFor(
      (info, f) => {
        if (info.protocol !== IpProto.UDP || info.srcPort !== 67 || info.dstPort !== 68) return undefined;
        const r = decodeReply(f);
        return r.msg.xid === x && r.msg.chaddr === g.mac ? r : undefined;
      },
      5000,
      what,
    );
    g.send(frame);
    const r = await p;
    assert.is(r.type, type, `${what}: DHCP message type`);
    return r;
  };
  let x = xid++;
  const offer = await exchange(clientFrame(discover(g.mac, [], { xid: x })), x, 2, 'DHCP OFFER');
  if (want !== undefined) assert.is(formatIpv4(offer.msg.yiaddr), formatIpv4(want), 'offered the address it holds');
  x = xid++;
  const ack = await exchange(clientFrame(requestSelecting(g.mac, offer.msg.yiaddr, [], { xid: x })), x, 5, 'DHCP ACK');
  return ack.msg.yiaddr;
}

let pingSeq = 0;
async function ping(g: GuestNic): Promise<void> {
  const seq = ++pingSeq & 0xffff;
  const l4 = Buffer.alloc(8 + 32, 0x61);
  writeIcmp(l4, 0, l4.length, IcmpType.EchoRequest, 0, (0x7777 << 16) | seq);
  const p = g.waitFor((info, f) => (info.protocol === IpProto.ICMP && info.srcIp === GW && f[info.l4] === 0 && f.readUInt16BE(info.l4 + 4) === 0x7777 && f.readUInt16BE(info.l4 + 6) === seq ? true : undefined), 5000, `echo reply ${seq}`);
  g.send(ipFrame(g.mac, GW_MAC, g.ip, GW, IpProto.ICMP, l4));
  await p;
}

let dnsId = 100;
async function resolve(g: GuestNic, name: string): Promise<string[]> {
  const id = ++dnsId & 0xffff;
  const sport = 30000 + (id % 20000);
  const q = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }] });
  const l4 = Buffer.alloc(8 + q.length);
  q.copy(l4, 8);
  writeUdp(l4, 0, sport, 53, l4.length, g.ip, GW);
  const p = g.waitFor(
    (info, f) => {
      if (info.protocol !== IpProto.UDP || info.srcIp !== GW || info.srcPort !== 53 || info.dstPort !== sport) return undefined;
      const a = dnsPacket.decode(f.subarray(info.payload, info.payload + info.payloadLen));
      return a.id === id ? (a.answers ?? []).map((x) => String((x as { data: unknown }).data)) : undefined;
    },
    5000,
    `DNS answer for ${name}`,
  );
  g.send(ipFrame(g.mac, GW_MAC, g.ip, GW, IpProto.UDP, l4));
  return p;
}

async function probeAll(g: GuestNic): Promise<void> {
  await ping(g);
  assert.equal(await resolve(g, 'host.internal'), [formatIpv4(ALIAS)], 'a local name');
  assert.equal(await resolve(g, UPSTREAM_NAME), [UPSTREAM_ANSWER], 'an upstream name');
}

/** Every number in a stats snapshot: finite and non-negative. */
function badNumbers(v: unknown, path = 'stats'): string[] {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? [] : [`${path} = ${v}`];
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => badNumbers(x, `${path}.${k}`));
}

// ---- the attacker's live connections ---------------------------------------------------------------

async function openLive(a: GuestNic, sport: number, dst: number, dport: number): Promise<Context['live'][number]> {
  const iss = (sport * 2654435761) >>> 0;
  const p = a.waitFor(
    (info, f) => (info.protocol === IpProto.TCP && info.srcIp === dst && info.srcPort === dport && info.dstPort === sport && f[info.l4 + 13] === (TcpFlag.SYN | TcpFlag.ACK) ? f.readUInt32BE(info.l4 + 4) : undefined),
    5000,
    `SYN-ACK for attacker port ${sport}`,
  );
  const seg = (flags: number, seq: number, ack: number): Buffer => {
    const l4 = Buffer.alloc(20);
    l4.writeUInt16BE(sport, 0);
    l4.writeUInt16BE(dport, 2);
    l4.writeUInt32BE(seq >>> 0, 4);
    l4.writeUInt32BE(ack >>> 0, 8);
    l4[12] = 5 << 4;
    l4[13] = flags;
    l4.writeUInt16BE(65535, 14);
    const f = ipFrame(ATTACKER_MAC, GW_MAC, ATTACKER_IP, dst, IpProto.TCP, l4);
    repair(f);
    return f;
  };
  a.send(seg(TcpFlag.SYN, iss, 0));
  const isn = await p;
  a.send(seg(TcpFlag.ACK, iss + 1, isn + 1));
  return { sport, dst, dport, seq: (iss + 1) >>> 0, ack: (isn + 1) >>> 0 };
}

// ---- the test -------------------------------------------------------------------------------------

test(`a hostile guest cannot crash the network or disturb another guest (seed ${SEED}, ${RUNS} recipes)`, async () => {
  const escaped: string[] = [];
  const onUncaught = (e: unknown): void => void escaped.push(`uncaughtException: ${e instanceof Error ? e.stack : String(e)}`);
  const onRejection = (e: unknown): void => void escaped.push(`unhandledRejection: ${e instanceof Error ? e.stack : String(e)}`);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
  const host = await hostSide();
  const net = VirtualNetwork.create({
    allow: ['127.0.0.0/8'],
    dnsUpstreams: [`127.0.0.1:${host.ports.resolver}`],
    hostResolver: false,
  })._unsafeUnwrap();
  if (process.env.VNETKIT_FUZZ_PCAP) net.capture(process.env.VNETKIT_FUZZ_PCAP)._unsafeUnwrap();
  const errors: VnetError[] = [];
  const detached: string[] = [];
  net.on('error', (e) => errors.push(e));
  net.on('nic-detached', (e) => detached.push(`${e.name}: ${e.reason}`));
  let closed = false;
  const started = Date.now();
  try {
    const victim = new GuestNic(net, 'victim', VICTIM_MAC, GW_MAC, { tcp: true });
    const attacker = new GuestNic(net, 'attacker', ATTACKER_MAC, GW_MAC);
    attacker.ip = ATTACKER_IP;

    victim.ip = await dhcp(victim);
    await probeAll(victim);

    // The victim's transfer: magic + UP bytes up, then DOWN bytes back once the server saw our FIN.
    const conn = new GuestConn(victim.tcp!.connect({ localIp: victim.ip, remoteIp: ALIAS, remotePort: host.ports.victim })._unsafeUnwrap());
    // The victim's bytes go up in slices as the attack progresses (all of them by its end).
    const upData = Buffer.concat([MAGIC, host.up]);
    let upOff = 0;
    let upLimit = MAGIC.length;
    const pump = (): void => {
      while (upOff < upLimit) {
        const n = conn.conn.send(upData, upOff, upLimit - upOff);
        if (n === 0) return;
        upOff += n;
      }
      if (upOff === upData.length && conn.conn.onWritable !== undefined) {
        conn.conn.onWritable = undefined;
        conn.conn.shutdown();
      }
    };
    conn.conn.onWritable = pump;
    pump();
    await until(() => conn.established, 5000, 'the victim connection');

    const ctx: Context = { victimIp: victim.ip, ports: host.ports, live: [], victimConn: undefined };
    ctx.live = [
      await openLive(attacker, 45000, ALIAS, host.ports.attack),
      await openLive(attacker, 45001, GW, 53),
      await openLive(attacker, 45002, ALIAS, host.ports.victim),
      await openLive(attacker, 45003, ALIAS, host.ports.attack),
    ];

    const recipes = fc.sample(recipe, { seed: SEED, numRuns: RUNS });
    let frames = 0; // from the attacker
    let probes = 0;
    for (let i = 0; i < recipes.length; i++) {
      const c = conn.conn;
      ctx.victimConn = conn.closed === undefined ? { sport: c.localPort, dport: c.remotePort, sndNxt: c.sndNxt, rcvNxt: c.rcvNxt } : undefined;
      for (const o of materialize(recipes[i]!, ctx)) {
        // A zero-length frame is a framing error on a QEMU stream (the NIC is dropped, by design).
        if (o.frame.length === 0) continue;
        (o.from === 'victim' ? victim : attacker).send(o.frame);
        if (o.from === 'attacker') frames++;
      }
      if (i % 16 === 15) {
        upLimit = MAGIC.length + Math.floor((host.up.length * (i + 1)) / recipes.length);
        pump();
        await tick();
      }
      if (i % 400 === 399) {
        await probeAll(victim);
        probes++;
      }
    }

    upLimit = upData.length;
    pump();
    await until(() => conn.ended && host.victim.upHash !== '', 20_000, `the victim's transfer (${conn.received.length} of ${DOWN} bytes down)`);
    assert.is(conn.closed === 'reset', false, 'the victim connection was not reset');
    assert.is(host.victim.upHash, sha(host.up), 'the host received the victim’s bytes intact');
    assert.is(conn.received.length, DOWN);
    assert.is(sha(conn.received), sha(host.down), 'the victim received the host’s bytes intact');

    // A fresh exchange afterwards: the lease holds (same address), ping and DNS still answered.
    assert.is(formatIpv4(await dhcp(victim, victim.ip)), formatIpv4(victim.ip), 'the victim renews its own address');
    await probeAll(victim);
    assert.ok(net.leases().some((l) => l.mac === '02:00:00:00:00:10' && l.ip === formatIpv4(victim.ip)), 'the victim’s lease is listed');

    assert.equal(escaped, [], 'nothing escaped');
    // A guest's own DHCP misbehaviour is reported (NAK, a decline, an exhausted pool); nothing else
    // is, and no report is about the victim's address being taken away.
    const victimIp = formatIpv4(victim.ip);
    assert.equal(
      errors.filter((e) => !EXPECTED_ERRORS.has(e.kind) || (e.kind !== 'dhcp-nak' && (e as { ip?: string }).ip === victimIp)).map((e) => `${e.kind}: ${e.message}`),
      [],
      'no unexpected error events',
    );
    assert.equal(detached, [], 'no NIC detached');
    assert.is(net.allNics().length, 2);
    const stats = net.stats();
    assert.equal(badNumbers(stats), [], 'counters are finite and non-negative');
    const attackerStats = stats.nics.find((n) => n.id === attacker.nic.id)!;
    assert.ok(attackerStats.framesIn >= frames, `the attacker's frames arrived (${attackerStats.framesIn} of ~${frames})`);
    if (process.env.VNETKIT_FUZZ_VERBOSE) {
      console.log(JSON.stringify({ seed: SEED, runs: RUNS, frames, probes, ms: Date.now() - started, host: host.counts(), gatewayDrops: stats.gateway.drops, attackerDrops: attackerStats.drops }));
    }

    const t = setTimeout(() => escaped.push('close() did not complete within 5 s'), 5000);
    await net.close();
    closed = true;
    clearTimeout(t);
    await tick();
    assert.equal(escaped, [], 'nothing escaped during close');
  } catch (e) {
    console.error(`\nnetwork fuzz failed: seed ${SEED}, ${RUNS} recipes; reproduce with VNETKIT_FUZZ_SEED=${SEED} VNETKIT_FUZZ_RUNS=${RUNS}`);
    if (escaped.length > 0) console.error(escaped.join('\n'));
    if (errors.length > 0) console.error(errors.map((x) => `${x.kind}: ${x.message}`).join('\n'));
    if (process.env.VNETKIT_FUZZ_VERBOSE) {
      const st = net.stats();
      console.error(JSON.stringify({ gateway: st.gateway, nics: st.nics, neighbours: net.neighbours.entries().map((n) => [formatIpv4(n.ip), n.mac.toString(16)]).slice(0, 20), dns: st.dns }, null, 1));
    }
    throw e;
  } finally {
    if (!closed) await net.close();
    await host.close();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
  }
});

test.run();
