/**
 * Frames for `test/fuzz/network.test.ts`: the hostile {@link Recipe}s of `attack-inputs.ts` made
 * into Ethernet frames when they are sent (`materialize`), aimed at what exists at that moment
 * (a live connection's sequence numbers, the victim's leased address). Attacker frames never
 * carry the victim's MAC or address as their source.
 * @module
 */
import { EtherType, writeEthernet } from '../../src/wire/ethernet.js';
import { IpProto, writeIpv4 } from '../../src/wire/ipv4.js';
import { writeTcpHeader, TcpFlag } from '../../src/wire/tcp.js';
import { writeIcmp } from '../../src/wire/icmpv4.js';
import { writeUdp } from '../../src/wire/udp.js';
import { writeArp } from '../../src/wire/arp.js';
import { DhcpOption } from '../../src/wire/dhcp.js';
import { dhcpOpt } from '../../src/wire/dhcp-repr.js';
import { dhcpBytes } from '../services/dhcp/helpers.js';
import { repairChecksums, setU16 } from '../wire/golden/fuzz-inputs.js';
import { ALIAS, ATTACKER_IP, ATTACKER_MAC, BROADCAST, GW, GW_MAC, SUBNET_BCAST, VICTIM_MAC, type Context, type Recipe, type Target } from './attack-inputs.js';

/** The address a target names (random picks come from `salt`). */
function addrOf(t: Target, ctx: Context, salt: number): number {
  switch (t) {
    case 'gw':
      return GW;
    case 'alias-attack':
    case 'alias-victim':
    case 'alias-closed':
    case 'alias-sink':
      return ALIAS;
    case 'external':
      return [0x0a000001, 0x08080808, 0xc6336407, 0xe0000001][salt & 3]! >>> 0;
    case 'loopback':
      return (0x7f000001 + (salt & 0xff00)) >>> 0;
    case 'victim':
      return ctx.victimIp;
    case 'guest':
      return 0xc0a84100 + 2 + (salt % 250) === ctx.victimIp ? 0xc0a84132 : 0xc0a84100 + 2 + (salt % 250);
    case 'bcast':
      return salt & 1 ? SUBNET_BCAST : 0xffffffff;
    case 'zero':
      return 0;
  }
}

/** Host ports are never random: only our own servers and a known-closed port are touched. */
function portOf(t: Target, ctx: Context, port: number): number {
  switch (t) {
    case 'alias-attack':
      return ctx.ports.attack;
    case 'alias-victim':
      return ctx.ports.victim;
    case 'alias-closed':
      return ctx.ports.closed;
    case 'alias-sink':
      return ctx.ports.sink;
    case 'loopback':
      return ctx.ports.closed;
    default:
      return port;
  }
}

function eth(len: number, dstMac: number, srcMac: number, type: number): Buffer {
  const b = Buffer.alloc(Math.max(60, len));
  writeEthernet(b, 0, dstMac, srcMac, type);
  return b;
}

/** An IPv4 packet around `l4` (checksum of the IP header written; L4 checksums are the caller's). */
export function ipFrame(srcMac: number, dstMac: number, src: number, dst: number, proto: number, l4: Uint8Array, flagsFrag = 0, id = 1): Buffer {
  const b = eth(34 + l4.length, dstMac, srcMac, EtherType.IPv4);
  b.set(l4, 34);
  writeIpv4(b, 14, 20 + l4.length, id, 64, proto, src >>> 0, dst >>> 0, flagsFrag);
  return b;
}

function tcpL4(sport: number, dport: number, seq: number, ack: number, flags: number, win: number, opts: Uint8Array, data: Uint8Array): Buffer {
  const optLen = Math.min(40, Math.ceil(opts.length / 4) * 4);
  const hl = 20 + optLen;
  const l4 = Buffer.alloc(hl + data.length);
  writeTcpHeader(l4, 0, sport, dport, seq >>> 0, ack >>> 0, hl, flags, win);
  l4.set(opts.subarray(0, optLen), 20);
  l4.set(data, hl);
  return l4;
}

/** A TCP frame with correct checksums unless `repair` is false. */
function tcpFrame(srcMac: number, src: number, dst: number, l4: Buffer, repair = true): Buffer {
  const f = ipFrame(srcMac, GW_MAC, src, dst, IpProto.TCP, l4);
  if (repair) repairChecksums(f);
  return f;
}

function udpFrame(srcMac: number, src: number, sport: number, dst: number, dport: number, data: Uint8Array, dstMac = GW_MAC): Buffer {
  const l4 = Buffer.alloc(8 + data.length);
  l4.set(data, 8);
  writeUdp(l4, 0, sport, dport, l4.length, src, dst);
  return ipFrame(srcMac, dstMac, src, dst, IpProto.UDP, l4);
}

/** An attacker frame never claims the victim's MAC or address as its source. */
function sanitize(f: Uint8Array, ctx: Context): void {
  if (f.length >= 12 && Buffer.from(f.subarray(6, 12)).readUIntBE(0, 6) === VICTIM_MAC) f[11] ^= 0x80;
  if (f.length >= 30 && f[12] === 0x08 && f[13] === 0x00 && Buffer.from(f.subarray(26, 30)).readUInt32BE(0) === ctx.victimIp) f[29] ^= 0x40;
  if (f.length >= 32 && f[12] === 0x08 && f[13] === 0x06 && Buffer.from(f.subarray(28, 32)).readUInt32BE(0) === ctx.victimIp) f[31] ^= 0x40;
}

/** Which NIC sends a frame. */
export interface Outgoing {
  from: 'attacker' | 'victim';
  frame: Uint8Array;
}

/** Turns a recipe into frames, given what exists now. */
export function materialize(r: Recipe, ctx: Context): Outgoing[] {
  const A = (frame: Uint8Array): Outgoing => {
    sanitize(frame, ctx);
    return { from: 'attacker', frame };
  };
  switch (r.k) {
    case 'golden': {
      const f = Uint8Array.from(r.frame);
      const setMac = (at: number, m: number): void => {
        if (f.length >= at + 6) Buffer.from(f.buffer, f.byteOffset).writeUIntBE(m, at, 6);
      };
      setMac(0, r.dstMac);
      setMac(6, ATTACKER_MAC);
      const isIp = f.length > 14 && f[12] === 0x08 && f[13] === 0x00;
      const isArp = f.length > 14 && f[12] === 0x08 && f[13] === 0x06;
      const dv = new DataView(f.buffer, f.byteOffset, f.length);
      if (isIp && f.length >= 34) {
        dv.setUint32(26, ATTACKER_IP);
        dv.setUint32(30, addrOf(r.to, ctx, r.port));
        const l4 = 14 + (f[14]! & 15) * 4;
        // Host-side destinations get our own ports; anything else keeps the mutated one.
        const hostSide = r.to.startsWith('alias') || r.to === 'loopback';
        if (hostSide && (f[23] === 6 || f[23] === 17)) setU16(f, l4 + 2, portOf(r.to, ctx, r.port));
        if (r.to.startsWith('alias') || r.to === 'loopback') {
          // Whatever it is, an aliased destination port must be ours: also the ICMP-quoted one.
          if (f[23] !== 6 && f[23] !== 17 && f[23] !== 1) dv.setUint32(30, GW);
        }
      } else if (isArp && f.length >= 42) {
        setMac(22, ATTACKER_MAC);
        dv.setUint32(28, ATTACKER_IP);
        dv.setUint32(38, addrOf(r.to, ctx, r.port));
      }
      if (r.repair) repairChecksums(f);
      return [A(f)];
    }
    case 'tcp': {
      const dst = addrOf(r.to, ctx, r.sport);
      const l4 = tcpL4(r.sport, portOf(r.to, ctx, r.dport), r.seq, r.ack, r.flags, r.win, r.opts, r.payload);
      return [A(tcpFrame(ATTACKER_MAC, ATTACKER_IP, dst, l4, r.repair))];
    }
    case 'live': {
      const l = ctx.live[r.which];
      if (l === undefined) return [];
      const l4 = tcpL4(l.sport, l.dport, l.seq + r.dseq, l.ack + r.dack, r.flags, r.win, r.opts, r.payload);
      return [A(tcpFrame(ATTACKER_MAC, ATTACKER_IP, l.dst, l4))];
    }
    case 'victim-live': {
      // From the victim's own NIC, on its own live tuple, with sequence and acknowledgment
      // numbers far outside every window (RFC 5961 blind attacks): never accepted, never a reset.
      const v = ctx.victimConn;
      if (v === undefined) return [];
      const data = r.flags & TcpFlag.RST || r.flags & TcpFlag.SYN ? new Uint8Array(0) : r.payload;
      const l4 = tcpL4(v.sport, v.dport, v.sndNxt + r.far, v.rcvNxt + r.far, r.flags, 1024, new Uint8Array(0), data);
      return [{ from: 'victim', frame: tcpFrame(VICTIM_MAC, ctx.victimIp, ALIAS, l4) }];
    }
    case 'flood': {
      const out: Outgoing[] = [];
      const dst = addrOf(r.to, ctx, r.base);
      const dport = portOf(r.to, ctx, r.to === 'gw' ? 53 + (r.base & 1) * 1000 : 80);
      for (let i = 0; i < r.n; i++) {
        const l4 = tcpL4(r.base + i, dport, (r.base * 7919 + i * 104729) >>> 0, 0, TcpFlag.SYN, 65535, Uint8Array.of(2, 4, 5, 180), new Uint8Array(0));
        if (r.fromVictim) out.push({ from: 'victim', frame: tcpFrame(VICTIM_MAC, ctx.victimIp, dst, l4) });
        else out.push(A(tcpFrame(ATTACKER_MAC, ATTACKER_IP, dst, l4)));
      }
      return out;
    }
    case 'udp': {
      const f = udpFrame(ATTACKER_MAC, ATTACKER_IP, 1024 + (r.dport % 60000), addrOf(r.to, ctx, r.dport), portOf(r.to, ctx, r.dport), r.payload);
      if (!r.repair) f[40] ^= 0x55;
      return [A(f)];
    }
    case 'dns': {
      const q = Uint8Array.from(r.query);
      for (const [pos, v] of r.flips) if (q.length > 0) q[pos % q.length] = v;
      if (!r.tcp) return [A(udpFrame(ATTACKER_MAC, ATTACKER_IP, 20000 + (q[0]! & 0xff), GW, 53, q))];
      // DNS over TCP without a handshake: a bare data segment to port 53 (RST expected).
      const data = Buffer.alloc(2 + q.length);
      data.writeUInt16BE(q.length, 0);
      data.set(q, 2);
      return [A(tcpFrame(ATTACKER_MAC, ATTACKER_IP, GW, tcpL4(30000 + q[1]!, 53, 1, 1, TcpFlag.ACK | TcpFlag.PSH, 1000, new Uint8Array(0), data)))];
    }
    case 'dhcp': {
      const claim = r.claim === 'victim' ? ctx.victimIp : r.claim === 'random' ? 0xc0a84100 + (r.chaddr % 254) + 1 : 0;
      const opts = [dhcpOpt.u8(DhcpOption.MessageType, r.type)];
      if (claim !== 0) opts.push(dhcpOpt.ips(DhcpOption.RequestedIpAddress, [claim]));
      if (r.type === 3 || r.type === 4) opts.push(dhcpOpt.ips(DhcpOption.ServerIdentifier, [GW]));
      const body = dhcpBytes({ mac: r.chaddr, xid: r.chaddr & 0xffffffff, ciaddr: r.ciaddrVictim ? ctx.victimIp : 0, options: opts });
      const payload = Buffer.concat([body.subarray(0, body.length - 1), r.extra, body.subarray(body.length - 1)]);
      for (const [pos, v] of r.flips) payload[240 + (pos % Math.max(1, payload.length - 240))] = v;
      return [A(udpFrame(ATTACKER_MAC, 0, 68, 0xffffffff, 67, payload, BROADCAST))];
    }
    case 'icmp': {
      let quote: Uint8Array = r.body;
      const q = (src: number, dst: number, proto: number, sport: number, dport: number, seq: number): Uint8Array => {
        const b = Buffer.alloc(28 + (r.body.length & 15));
        writeIpv4(b, 0, 60, 7, 64, proto, src, dst);
        b.writeUInt16BE(sport, 20);
        b.writeUInt16BE(dport, 22);
        b.writeUInt32BE(seq >>> 0, 24);
        return b;
      };
      const v = ctx.victimConn;
      const l = ctx.live.find((x) => x !== undefined);
      // Errors "from the gateway side" of a live tuple: the quoted datagram is one the guest sent.
      if (r.quote === 'victim' && v) quote = q(ctx.victimIp, ALIAS, IpProto.TCP, v.sport, v.dport, v.sndNxt + r.rest);
      if (r.quote === 'live' && l) quote = q(ATTACKER_IP, l.dst, IpProto.TCP, l.sport, l.dport, l.seq);
      if (r.quote === 'none') quote = new Uint8Array(0);
      const l4 = Buffer.alloc(8 + quote.length);
      l4.set(quote, 8);
      writeIcmp(l4, 0, l4.length, r.type, r.code, r.rest);
      if (!r.repair) l4[2] ^= 1;
      const to = r.to.startsWith('alias') ? 'alias-closed' : r.to;
      return [A(ipFrame(ATTACKER_MAC, GW_MAC, ATTACKER_IP, addrOf(to, ctx, r.rest), IpProto.ICMP, l4))];
    }
    case 'frag': {
      const dst = addrOf(r.to, ctx, r.id);
      const out: Outgoing[] = [];
      for (const p of r.pieces) {
        const data = Buffer.alloc(p.len, p.fill);
        // The first fragment starts with a plausible L4 header aimed at our own ports.
        if (p.off === 0 && p.len >= 8) {
          if (r.proto === IpProto.UDP) {
            data.writeUInt16BE(5000, 0);
            data.writeUInt16BE(r.to === 'alias-sink' ? ctx.ports.sink : 53, 2);
            data.writeUInt16BE(Math.min(0xffff, p.len), 4);
            data.writeUInt16BE(0, 6);
          } else if (r.proto === IpProto.ICMP) {
            data[0] = 8;
            data[1] = 0;
          } else if (r.proto === IpProto.TCP) {
            data.writeUInt16BE(5000, 0);
            data.writeUInt16BE(ctx.ports.closed, 2);
          }
        }
        const ff = ((p.off >> 3) & 0x1fff) | (p.mf ? 0x2000 : 0);
        const f = ipFrame(ATTACKER_MAC, GW_MAC, ATTACKER_IP, dst, r.proto, data, ff, 0x4000 + r.id);
        if (p.off % 8 !== 0) f[21] = (f[21]! + 1) & 0xff; // an offset not on the 8-byte grid: garbage low bits
        repairChecksums(f);
        out.push(A(f));
      }
      return out;
    }
    case 'arp': {
      const f = eth(42, r.dstMac, ATTACKER_MAC, EtherType.ARP);
      const sip = r.sender === 'attacker' ? ATTACKER_IP : r.sender === 'zero' ? 0 : r.sender === 'gw' ? GW : 0xc0a84100 + (r.senderMac % 254) + 1;
      writeArp(f, 14, r.op, r.senderMac, sip, 0, addrOf(r.targetIp, ctx, r.senderMac));
      return [A(f.subarray(0, Math.max(14, r.trunc)))];
    }
    case 'random': {
      const b = Buffer.alloc(Math.max(14, r.bytes.length));
      b.set(r.bytes);
      if (r.head !== 'none') {
        b.writeUIntBE(GW_MAC, 0, 6);
        b.writeUIntBE(ATTACKER_MAC, 6, 6);
        b.writeUInt16BE(r.head === 'ipv4' ? 0x0800 : r.head === 'arp' ? 0x0806 : 0x8100, 12);
        if (r.head === 'ipv4' && b.length > 14) b[14] = 0x45;
        if (r.head === 'ipv4' && b.length >= 34) {
          b.writeUInt32BE(ATTACKER_IP, 26);
          b.writeUInt32BE(GW, 30);
          repairChecksums(b);
        }
      } else if (b.length >= 12 && b.readUIntBE(0, 6) === VICTIM_MAC) b[5] ^= 1;
      return [A(b)];
    }
  }
}
