import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualScheduler } from '../../src/runtime/scheduler.js';
import { IcmpLayer } from '../../src/stack/icmp.js';
import { Ipv4Output } from '../../src/stack/ip-output.js';
import { NO_CLAMP, PmtuGuard, VPNKIT_SAFE_MTU } from '../../src/stack/ipv4-pmtu.js';
import { Neighbours } from '../../src/stack/neighbours.js';
import { Switch } from '../../src/switch/switch.js';
import { parseIpv4, parseMac } from '../../src/wire/address.js';
import { checksum } from '../../src/wire/checksum.js';
import { Drop } from '../../src/wire/drop.js';
import { FrameInfo, parseFrame } from '../../src/wire/frame-info.js';
import { CapturePort } from '../harness/capture-port.js';
import { ipv4Packet, udpPacket } from '../harness/frames.js';

const GW_MAC = 'f6:16:36:bc:f9:c6';
const G1 = '02:00:00:00:00:10';
const LOOPBACK = parseIpv4('127.0.0.1')!;
const INTERNET = parseIpv4('198.51.100.7')!;

function setup(clampMtu?: number) {
  const scheduler = new ManualScheduler();
  const sw = new Switch({ clock: scheduler.clock });
  const nic = new CapturePort('g1');
  sw.attach(nic);
  const out = new Ipv4Output(sw, new Neighbours(scheduler.clock), parseMac(GW_MAC)!, parseIpv4('192.168.65.1')!, 1500);
  const guard = new PmtuGuard(new IcmpLayer(out, () => false), clampMtu === undefined ? {} : { clampMtu });
  const info = new FrameInfo();
  /** A UDP datagram of `total` IP bytes from the guest to `dst`, DF as given. */
  const datagram = (dst: string, total: number, df: boolean): FrameInfo => {
    const u = udpPacket(GW_MAC, G1, '192.168.65.10', 40000, dst, 4433, Buffer.alloc(total - 28, 0x5a));
    const f = df ? u : ipv4Packet(GW_MAC, G1, '192.168.65.10', dst, 17, u.subarray(34), 0);
    assert.is(parseFrame(f, 0, f.length, info), Drop.None);
    return info;
  };
  return { nic, guard, datagram };
}

test('default: no clamp — host sockets carry any datagram, loopback or not, DF or not', () => {
  const { nic, guard, datagram } = setup();
  assert.is(guard.egressMtu(INTERNET), NO_CLAMP);
  assert.is(guard.egressMtu(LOOPBACK), NO_CLAMP);
  assert.not.ok(guard.refuse(datagram('198.51.100.7', 1500, true), INTERNET));
  assert.is(nic.take().length, 0);
});

test('vpnkit clamp: DF above 1452 to a non-loopback host gets fragmentation-needed carrying 1452', () => {
  const { nic, guard, datagram } = setup(VPNKIT_SAFE_MTU);
  assert.not.ok(guard.refuse(datagram('198.51.100.7', 1452, true), INTERNET), 'exactly the MTU passes');
  assert.ok(guard.refuse(datagram('198.51.100.7', 1453, true), INTERNET));
  const [icmp] = nic.take();
  assert.ok(icmp);
  assert.is(icmp!.toString('hex', 0, 6), G1.replace(/:/g, ''), 'back to the guest');
  assert.is(icmp!.readUInt32BE(26), INTERNET, 'from the address it sent to');
  assert.is(icmp![34], 3);
  assert.is(icmp![35], 4);
  assert.is(icmp!.readUInt16BE(40), 1452, 'next-hop MTU field (RFC 1191 §4)');
  assert.is(checksum(icmp!, 34, icmp!.length - 34), 0);
  assert.is(icmp!.readUInt16BE(42 + 2), 1453, 'quotes the refused header');
  assert.is(icmp!.readUInt16BE(42 + 20 + 2), 4433, 'and its UDP ports');
  assert.is(guard.fragNeededSent, 1);
});

test('the clamp spares datagrams without DF (the host kernel may fragment them) and loopback', () => {
  const { nic, guard, datagram } = setup(VPNKIT_SAFE_MTU);
  assert.not.ok(guard.refuse(datagram('198.51.100.7', 1500, false), INTERNET));
  assert.not.ok(guard.refuse(datagram('192.168.65.254', 1500, true), LOOPBACK), 'the host alias is loopback');
  assert.is(nic.take().length, 0);
});

test('a clamp below the IPv4 minimum is raised to 68 (RFC 1191 §3)', () => {
  const { guard } = setup(20);
  assert.is(guard.egressMtu(INTERNET), 68);
});

test.run();
