/**
 * IcmpEchoForwarder with fake ping sockets on a ManualScheduler: identifiers mapped both ways,
 * replies from the pinged address, the egress policy first, idle expiry, eviction, unavailable
 * sockets dropped and logged once, flow events. Then the same forwarder installed on a whole
 * VirtualNetwork, so the reply frame the guest gets is checked byte by byte.
 * (The real kernel path is in icmp-echo-kernel.test.ts.)
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { err, ok, type Result } from 'neverthrow';
import { vnetError, type VnetError } from '../../src/errors.js';
import { AddressMap } from '../../src/forward/address-map.js';
import { EgressPolicy } from '../../src/forward/egress-policy.js';
import { FlowEventHub, type FlowCloseEvent, type FlowOpenEvent } from '../../src/forward/flow-events.js';
import { IcmpEchoForwarder, type IcmpEchoForwarderOptions } from '../../src/forward/icmp-echo.js';
import { icmpEchoSender, type EchoSocket, type IcmpEchoSender } from '../../src/forward/icmp-echo-io.js';
import { SeededRng } from '../../src/runtime/rng.js';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { VirtualNetwork } from '../../src/virtual-network.js';
import { parseCidr, parseIpv4 } from '../../src/wire/address.js';
import { FrameInfo, parseFrame } from '../../src/wire/frame-info.js';
import { checkIcmp } from '../../src/wire/icmpv4.js';
import { CapturePort } from '../harness/capture-port.js';
import { icmpEcho } from '../harness/frames.js';

const GW_MAC = 'f6:16:36:bc:f9:c6';
const G1_MAC = '02:00:00:00:00:10';
const G2_MAC = '02:00:00:00:00:11';
const ip = (s: string): number => parseIpv4(s)!;

/** A ping socket that records sends; the kernel's identifier is bound at the first send. */
class FakeSocket implements EchoSocket {
  identifier = 0;
  readonly sent: Array<{ dst: string; msg: Buffer }> = [];
  closed = false;
  unrefd = false;
  failWith: string | undefined;
  private replyH: ((src: string, m: Buffer) => void) | undefined;
  private errorH: ((e: VnetError & { code?: string }) => void) | undefined;
  constructor(readonly kernelId: number) {}
  send(dst: string, icmp: Uint8Array, off: number, len: number): Result<void, VnetError & { code?: string }> {
    if (this.failWith !== undefined) return err(vnetError('os-error', `ping sendto failed: ${this.failWith}`, { code: this.failWith }));
    this.identifier = this.kernelId;
    const msg = Buffer.from(icmp.subarray(off, off + len));
    msg.writeUInt16BE(this.kernelId, 4); // the kernel stamps its identifier
    this.sent.push({ dst, msg });
    return ok(undefined);
  }
  onReply(h: (src: string, m: Buffer) => void): void {
    this.replyH = h;
  }
  onError(h: (e: VnetError & { code?: string }) => void): void {
    this.errorH = h;
  }
  unref(): void {
    this.unrefd = true;
  }
  close(): void {
    this.closed = true;
  }
  /** The host answers the last request as the kernel would deliver it (no IP header on Linux). */
  answer(src = this.sent.at(-1)!.dst, ipHeader = false, id = this.kernelId): void {
    const req = this.sent.at(-1)!.msg;
    const rep = Buffer.from(req);
    rep[0] = 0;
    rep.writeUInt16BE(id, 4);
    this.replyH!(src, ipHeader ? Buffer.concat([Buffer.from([0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]), rep]) : rep);
  }
  raw(src: string, m: Buffer): void {
    this.replyH!(src, m);
  }
  error(code: string): void {
    this.errorH!(vnetError('os-error', `ping recv failed: ${code}`, { code }));
  }
}

interface Sent {
  kind: 'reply' | 'unreachable';
  src: number;
  dst: number;
  id?: number;
  seq?: number;
  data?: string;
  code?: number;
  quote?: Buffer;
}

function setup(o: Partial<IcmpEchoForwarderOptions> & { allow?: string[]; deny?: string[]; failOpen?: string } = {}) {
  const sched = new ManualScheduler();
  const sockets: FakeSocket[] = [];
  const out: Sent[] = [];
  const logs: string[] = [];
  const counts = { dropped: 0 };
  const sender: IcmpEchoSender = {
    echoReply: (src, dst, id, seq, data, off, len) => (out.push({ kind: 'reply', src, dst, id, seq, data: Buffer.from(data.subarray(off, off + len)).toString() }), 0),
    unreachable: (from, quote, qOff, qLen, code) => (out.push({ kind: 'unreachable', src: from, dst: Buffer.from(quote.subarray(qOff)).readUInt32BE(12), code, quote: Buffer.from(quote.subarray(qOff, qOff + qLen)) }), 0),
    dropped: () => void counts.dropped++,
  };
  const policy = new EgressPolicy((o.allow ?? ['127.0.0.0/8', '198.18.0.0/15']).map((c) => parseCidr(c)!), (o.deny ?? []).map((c) => parseCidr(c)!));
  let failOpen = o.failOpen;
  const fwd = new IcmpEchoForwarder({
    runtime: { clock: sched.clock, scheduler: sched, rng: new SeededRng(1) },
    sender,
    policy,
    addressMap: new AddressMap(ip('192.168.65.254')),
    logger: { error: (m) => logs.push(`error: ${m}`), warn: (m) => logs.push(`warn: ${m}`), info: (m) => logs.push(`info: ${m}`), debug: () => {} },
    isLocal: (a) => (a & 0xffffff00) >>> 0 === ip('192.168.65.0'),
    openSocket: () => {
      if (failOpen !== undefined) return err(vnetError('os-error', failOpen));
      const s = new FakeSocket(1000 + sockets.length);
      sockets.push(s);
      return ok(s);
    },
    ...o,
  });
  const info = new FrameInfo();
  /** The guest sends an echo request (a frame parsed as the gateway would). */
  const ping = (src: string, dst: string, id: number, seq: number, data = 'ping-data', mac = G1_MAC): void => {
    const f = icmpEcho(GW_MAC, mac, src, dst, id, seq, Buffer.from(data));
    assert.is(parseFrame(f, 0, f.length, info), 0);
    fwd.input(info);
  };
  return { sched, sockets, out, logs, counts, fwd, policy, ping, setFailOpen: (v: string | undefined) => (failOpen = v) };
}

const mapping = suite('identifiers and addresses');

mapping('the request goes to the real destination with its data; the reply returns with the guest id, seq and data', () => {
  const t = setup();
  t.ping('192.168.65.10', '198.18.0.7', 0x1234, 1, 'hello');
  assert.is(t.sockets.length, 1);
  const s = t.sockets[0]!;
  assert.is(s.sent[0]!.dst, '198.18.0.7');
  assert.is(s.sent[0]!.msg[0], 8, 'an echo request');
  assert.is(s.sent[0]!.msg.readUInt16BE(6), 1, 'sequence untouched');
  assert.is(s.sent[0]!.msg.subarray(8).toString(), 'hello');
  assert.ok(s.unrefd, 'the socket does not hold the process open');
  s.answer();
  assert.equal(t.out, [{ kind: 'reply', src: ip('198.18.0.7'), dst: ip('192.168.65.10'), id: 0x1234, seq: 1, data: 'hello' }]);
  assert.is(t.fwd.stats.requests, 1);
  assert.is(t.fwd.stats.replies, 1);
  assert.is(t.counts.dropped, 0);
});

mapping('the same guest flow reuses its socket; another guest with the same id gets its own, and replies never cross', () => {
  const t = setup();
  t.ping('192.168.65.10', '198.18.0.7', 7, 1, 'a');
  t.ping('192.168.65.10', '198.18.0.7', 7, 2, 'b');
  t.ping('192.168.65.11', '198.18.0.7', 7, 1, 'c', G2_MAC);
  assert.is(t.sockets.length, 2);
  assert.is(t.sockets[0]!.sent.length, 2);
  t.sockets[1]!.answer();
  t.sockets[0]!.answer();
  assert.equal(
    t.out.map((o) => [o.dst, o.id, o.seq, o.data]),
    [
      [ip('192.168.65.11'), 7, 1, 'c'],
      [ip('192.168.65.10'), 7, 2, 'b'],
    ],
  );
});

mapping('a destination mapped to 127.0.0.1 (the alias) pings 127.0.0.1 and the answer comes from the alias', () => {
  // In a network the gateway owns the alias and answers it itself; the mapping is the forwarder's own.
  const t = setup({ isLocal: () => false });
  t.ping('192.168.65.10', '192.168.65.254', 1, 1);
  assert.is(t.sockets[0]!.sent[0]!.dst, '127.0.0.1');
  t.sockets[0]!.answer('127.0.0.1');
  assert.is(t.out[0]!.src, ip('192.168.65.254'));
});

mapping('a reply from another source is relayed from that source; macOS-style IP headers are skipped', () => {
  const t = setup();
  t.ping('192.168.65.10', '198.18.0.7', 1, 1, 'x');
  t.sockets[0]!.answer('198.18.0.9', true);
  assert.is(t.out[0]!.src, ip('198.18.0.9'));
  assert.is(t.out[0]!.data, 'x');
});

mapping('messages that are not our echo replies are ignored', () => {
  const t = setup();
  t.ping('192.168.65.10', '198.18.0.7', 1, 1);
  const s = t.sockets[0]!;
  s.answer(undefined, false, 4242); // another socket's identifier
  const unreach = Buffer.alloc(8 + 28);
  unreach[0] = 3;
  s.raw('198.18.0.7', unreach);
  s.raw('198.18.0.7', Buffer.alloc(3));
  assert.equal(t.out, []);
  assert.is(t.fwd.stats.ignored, 3);
});

const policy = suite('policy and failures');

policy('a denied destination opens no socket and gets admin-prohibited quoting the request', () => {
  const t = setup({ deny: ['127.0.0.5/32'] });
  t.ping('192.168.65.10', '127.0.0.5', 9, 1);
  assert.is(t.sockets.length, 0);
  assert.is(t.out.length, 1);
  assert.is(t.out[0]!.kind, 'unreachable');
  assert.is(t.out[0]!.code, 13);
  assert.is(t.out[0]!.src, ip('127.0.0.5'));
  assert.is(t.out[0]!.quote!.length, 28, 'IP header + 8 bytes');
  assert.is(t.out[0]!.quote!.readUInt16BE(24), 9, 'the quoted echo id');
  assert.is(t.policy.stats.deniedByProtocol.icmp, 1);
  assert.is(t.fwd.stats.denied, 1);
});

policy("deniedReply 'silent' drops and counts instead", () => {
  const t = setup({ allow: ['127.0.0.0/8'], deniedReply: 'silent' });
  t.ping('192.168.65.10', '198.18.0.7', 9, 1);
  assert.equal(t.out, []);
  assert.is(t.counts.dropped, 1);
});

policy('guest-subnet destinations are never sent to the host', () => {
  const t = setup();
  t.ping('192.168.65.10', '192.168.65.77', 9, 1);
  assert.is(t.sockets.length, 0);
  assert.equal(t.out, []);
  assert.is(t.counts.dropped, 1);
});

policy('no socket (EACCES): every request dropped and counted, the reason logged once, retried after a minute', () => {
  const t = setup({ failOpen: "pingSocket failed: EACCES (permission denied): net.ipv4.ping_group_range is '1 0'" });
  for (let i = 0; i < 5; i++) t.ping('192.168.65.10', '198.18.0.7', 9, i);
  assert.is(t.counts.dropped, 5);
  assert.is(t.fwd.stats.dropped, 5);
  assert.equal(t.out, [], 'nothing forged');
  assert.is(t.logs.length, 1);
  assert.match(t.logs[0]!, /^warn: icmp: cannot forward echo requests .*ping_group_range/);
  assert.match(t.fwd.unavailableReason!, /EACCES/);
  t.setFailOpen(undefined);
  t.sched.advance(30_000);
  t.ping('192.168.65.10', '198.18.0.7', 9, 6);
  assert.is(t.sockets.length, 0, 'not retried within the minute');
  t.sched.advance(30_000);
  t.ping('192.168.65.10', '198.18.0.7', 9, 7);
  assert.is(t.sockets.length, 1, 'retried after it');
  assert.is(t.fwd.unavailableReason, undefined);
  assert.is(t.logs.at(-1), 'info: icmp: echo forwarding available again');
});

policy('a send refused with ENETUNREACH becomes net unreachable to the guest; other errors are dropped', () => {
  const t = setup();
  t.ping('192.168.65.10', '198.18.0.7', 9, 1);
  const s = t.sockets[0]!;
  s.failWith = 'ENETUNREACH';
  t.ping('192.168.65.10', '198.18.0.7', 9, 2);
  assert.is(t.out.at(-1)!.kind, 'unreachable');
  assert.is(t.out.at(-1)!.code, 0);
  assert.is(t.out.at(-1)!.quote!.readUInt16BE(26), 2, 'quotes the failed request');
  s.failWith = 'EPERM';
  t.ping('192.168.65.10', '198.18.0.7', 9, 3);
  assert.is(t.out.length, 1);
  assert.is(t.fwd.stats.sendErrors, 2);
  assert.is(t.counts.dropped, 1);
  s.error('EHOSTUNREACH');
  assert.is(t.out.at(-1)!.code, 1, 'host unreachable from a receive error');
});

const life = suite('flow lifetime');

life('an idle flow expires after 60 s and closes its socket; replies and requests keep it', () => {
  const t = setup();
  t.ping('192.168.65.10', '198.18.0.7', 9, 1);
  const s = t.sockets[0]!;
  t.sched.advance(50_000);
  s.answer();
  t.sched.advance(50_000);
  assert.is(t.fwd.stats.flows, 1, 'kept by the reply at 50 s');
  t.sched.advance(10_001);
  assert.is(t.fwd.stats.flows, 0);
  assert.ok(s.closed);
  assert.is(t.fwd.stats.expired, 1);
  t.ping('192.168.65.10', '198.18.0.7', 9, 2);
  assert.is(t.sockets.length, 2, 'the next ping opens a fresh flow');
});

life('over maxFlows the least recently used flow is evicted', () => {
  const t = setup({ maxFlows: 2 });
  t.ping('192.168.65.10', '198.18.0.1', 1, 1);
  t.sched.advance(10);
  t.ping('192.168.65.10', '198.18.0.2', 1, 1);
  t.sched.advance(10);
  t.ping('192.168.65.10', '198.18.0.1', 1, 2); // refreshes the first
  t.ping('192.168.65.10', '198.18.0.3', 1, 1);
  assert.is(t.fwd.stats.evicted, 1);
  assert.ok(t.sockets[1]!.closed, 'the flow to .2 was the least recently used');
  assert.not.ok(t.sockets[0]!.closed);
  assert.is(t.fwd.stats.flows, 2);
});

life('closeForGuest closes only that guest; close() closes all and later requests are dropped', () => {
  const t = setup();
  t.ping('192.168.65.10', '198.18.0.1', 1, 1);
  t.ping('192.168.65.11', '198.18.0.1', 1, 1, 'x', G2_MAC);
  t.ping('192.168.65.11', '198.18.0.2', 1, 1, 'x', G2_MAC);
  assert.equal([...t.fwd.flowsByGuest()], [[ip('192.168.65.10'), 1], [ip('192.168.65.11'), 2]], 'open flows per guest address');
  assert.is(t.fwd.closeForGuest(ip('192.168.65.10')), 1);
  assert.equal([...t.fwd.flowsByGuest()], [[ip('192.168.65.11'), 2]]);
  assert.equal(
    t.sockets.map((s) => s.closed),
    [true, false, false],
  );
  t.fwd.close();
  assert.ok(t.sockets[1]!.closed);
  assert.is(t.sched.size, 0, 'no timer left');
  t.ping('192.168.65.10', '198.18.0.1', 1, 2);
  assert.is(t.sockets.length, 3);
  assert.is(t.counts.dropped, 1);
});

const events = suite('flow events');

events('one open (after the kernel bound its id) and one close with bytes and the reason', () => {
  const opens: FlowOpenEvent[] = [];
  const closes: FlowCloseEvent[] = [];
  const t = setup();
  t.fwd.flowEvents = new FlowEventHub({ clock: t.sched.clock, listening: () => true, onOpen: (e) => opens.push(e), onClose: (e) => closes.push(e), nicOf: () => 3 });
  t.ping('192.168.65.10', '198.18.0.7', 0x2222, 1, '12345');
  t.sockets[0]!.answer();
  t.ping('192.168.65.10', '198.18.0.7', 0x2222, 2, '12345');
  t.sockets[0]!.answer();
  t.sched.advance(61_000);
  assert.equal(opens, [{ id: 1, protocol: 'icmp', guest: { ip: '192.168.65.10', port: 0x2222 }, remote: { ip: '198.18.0.7', port: 0 }, host: { ip: '198.18.0.7', port: 1000 }, nic: 3 }]);
  assert.equal(closes, [{ ...opens[0]!, opened: true, bytesToGuest: 10, bytesFromGuest: 10, durationMs: 60_000, closeReason: 'idle' }]);
});

events('a denied ping reports a close alone; nothing is built while nobody listens', () => {
  const closes: FlowCloseEvent[] = [];
  let listening = false;
  const t = setup({ deny: ['127.0.0.5/32'] });
  t.fwd.flowEvents = {
    get enabled() {
      return listening;
    },
    open: () => assert.unreachable('open while disabled') as never,
    close: () => assert.unreachable('close of an unreported flow'),
    reject: () => assert.unreachable('reject while disabled'),
  };
  t.ping('192.168.65.10', '127.0.0.5', 1, 1);
  t.ping('192.168.65.10', '127.0.0.1', 1, 1);
  t.sched.advance(61_000);
  listening = true;
  t.fwd.flowEvents = new FlowEventHub({ clock: t.sched.clock, listening: () => listening, onOpen: () => {}, onClose: (e) => closes.push(e) });
  t.ping('192.168.65.10', '127.0.0.5', 1, 2);
  assert.is(closes.length, 1);
  assert.equal([closes[0]!.opened, closes[0]!.closeReason, closes[0]!.host.ip], [false, 'denied', '127.0.0.5']);
});

const whole = suite('inside a VirtualNetwork');

whole('a forwarder on fake sockets swapped in as icmp.forwardEcho: a checksummed echo reply frame reaches the guest; the gateway still answers its own address', () => {
  const sched = new ManualScheduler();
  const net = VirtualNetwork.create({ allow: ['198.18.0.0/15'], runtime: { clock: sched.clock, scheduler: sched, rng: new SeededRng(1) } })._unsafeUnwrap();
  const nic = new CapturePort('g1');
  net.switch.attach(nic);
  const sockets: FakeSocket[] = [];
  const fwd = new IcmpEchoForwarder({
    runtime: net.runtime,
    sender: icmpEchoSender(net.fragmenter, net.icmp),
    policy: net.egress,
    addressMap: net.addressMap,
    isLocal: (a) => net.gateway.isGuestAddress(a),
    openSocket: () => {
      const s = new FakeSocket(77);
      sockets.push(s);
      return ok(s);
    },
  });
  net.icmp.forwardEcho = fwd.input;
  const send = (f: Buffer): void => void net.switch.input(nic, f, 0, f.length);
  send(icmpEcho(GW_MAC, G1_MAC, '192.168.65.10', '198.18.0.1', 0x4321, 5, Buffer.from('payload')));
  sockets[0]!.answer('198.18.0.1');
  const [r] = nic.take();
  assert.ok(r, 'a frame to the guest');
  assert.is(r!.toString('hex', 26, 30), 'c6120001', 'from the address pinged');
  assert.is(r!.toString('hex', 30, 34), 'c0a8410a');
  assert.is(r![34], 0, 'echo reply');
  assert.is(r!.readUInt16BE(38), 0x4321);
  assert.is(r!.readUInt16BE(40), 5);
  assert.is(r!.toString('utf8', 42), 'payload');
  assert.is(checkIcmp(r!, 34, r!.length - 34), 0, 'ICMP checksum valid');
  assert.is(net.stats().gateway.echoReplies, 0, 'the gateway forged nothing');
  send(icmpEcho(GW_MAC, G1_MAC, '192.168.65.10', '192.168.65.1', 1, 1));
  assert.is(net.stats().gateway.echoReplies, 1, 'its own address is still answered locally');
  send(icmpEcho(GW_MAC, G1_MAC, '192.168.65.10', '10.1.2.3', 1, 1));
  assert.is(nic.take().at(-1)![35], 13, 'outside the allow list: admin-prohibited');
  assert.is(net.stats().gateway.echoDropped, 0);
  fwd.close();
  void net.close();
});

whole('the network installs its own forwarder: a guest may not ping the host loopback directly (admin-prohibited, counted as denied), and the policy answers for the rest', async () => {
  const sched = new ManualScheduler();
  const make = (icmpForwarding?: boolean) =>
    VirtualNetwork.create({ allow: ['127.0.0.0/8'], ...(icmpForwarding !== undefined ? { icmpForwarding } : {}), runtime: { clock: sched.clock, scheduler: sched, rng: new SeededRng(1) } })._unsafeUnwrap();
  const net = make();
  const nic = new CapturePort('g1');
  net.switch.attach(nic);
  assert.ok(net.icmp.forwardEcho, 'forwardEcho is installed');
  const ping = (n: VirtualNetwork, port: CapturePort, dst: string): void => {
    const f = icmpEcho(GW_MAC, G1_MAC, '192.168.65.10', dst, 0x4321, 5);
    n.switch.input(port, f, 0, f.length);
  };
  // 127/8 and 0/8 are reachable only through the alias, which the gateway answers itself.
  for (const dst of ['127.0.0.1', '127.1.2.3']) {
    ping(net, nic, dst);
    const [r] = nic.take();
    assert.ok(r, `an answer for ${dst}`);
    assert.equal([r![34], r![35]], [3, 13], `${dst}: admin-prohibited`);
  }
  ping(net, nic, '0.0.0.0'); // "this host" is nobody's to answer: dropped
  assert.equal(nic.take(), []);
  ping(net, nic, '10.1.2.3'); // outside the allow list
  assert.equal([nic.take()[0]![34]], [3]);
  const s = net.stats().icmpEcho!;
  assert.is(s.denied, 3, JSON.stringify(s));
  assert.is(s.dropped, 1, JSON.stringify(s));
  assert.is(s.requests, 0, 'nothing was sent to the host');
  assert.is(net.stats().gateway.echoReplies, 0, 'the gateway forged nothing');
  await net.close();

  const off = make(false);
  const nic2 = new CapturePort('g2');
  off.switch.attach(nic2);
  assert.is(off.icmp.forwardEcho, undefined);
  assert.is(off.stats().icmpEcho, undefined);
  ping(off, nic2, '10.1.2.3');
  assert.is(off.stats().gateway.echoDropped, 1);
  assert.is(off.stats().gateway.echoReplies, 0);
  assert.equal(nic2.take(), []);
  await off.close();
});

mapping.run();
policy.run();
life.run();
events.run();
whole.run();
