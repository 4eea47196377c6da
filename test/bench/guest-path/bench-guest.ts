/**
 * A namespace guest set up for benchmarking: the e2e harness's TAP + relay guest, with a
 * static address (no DHCP, the same for both peers), the link MTU, and a few per-namespace
 * settings that keep the guest itself from being what is measured.
 * @module
 */
import { createGuest, type Guest } from '../../e2e/harness/netns.js';
import { waitUntil } from '../../e2e/harness/probes.js';
import { GUEST_IP, PREFIX, type Peer } from './peers.js';

/**
 * TAP transmit queue length. The tun driver drops a frame when its queue is full instead of
 * pushing back on the sender like a virtio NIC does, and a relay that is briefly descheduled
 * on a 2-core machine then costs the guest's TCP a loss (passt 2023-03 has no SACK, so each
 * one stalls it for an RTO). 10000 frames of headroom models a NIC that does not drop.
 */
const TXQUEUELEN = 10_000;

/**
 * Per-namespace sysctls (they touch only this guest): a wide ephemeral port range and
 * TIME_WAIT reuse so that tens of thousands of short connections in a few seconds do not run
 * out of local ports; IPv6 off so that no MLD/RS noise crosses the link.
 */
const SYSCTLS: Array<[string, string]> = [
  ['net/ipv4/ip_local_port_range', '1024 65000'],
  ['net/ipv4/tcp_tw_reuse', '1'],
  ['net/ipv6/conf/all/disable_ipv6', '1'],
];

/**
 * Creates a guest attached to `peer` with the given MTU and waits until a TCP exchange with
 * the host echo server at `echoPort` works through the peer. No default route is installed:
 * the guest can only reach its /24, and it only ever dials `peer.target`.
 */
export async function createBenchGuest(peer: Peer, mtu: number, probeBin: string, echoPort: number): Promise<Guest> {
  const guest = await createGuest({ socketPath: peer.socketPath, framing: 'qemu', mtu });
  try {
    for (const [key, value] of SYSCTLS) await guest.exec(['sh', '-c', `echo "${value}" > /proc/sys/${key}`]);
    await guest.exec(['ip', 'link', 'set', guest.tap, 'txqueuelen', String(TXQUEUELEN)]);
    await guest.setAddress(`${GUEST_IP}/${PREFIX}`);
    await waitUntil(
      `a TCP exchange from the guest to ${peer.target}:${echoPort} through ${peer.kind}`,
      async () => (await guest.exec([probeBin, 'rr', peer.target, String(echoPort), '0.05'], { reject: false, timeoutMs: 5_000 })).exitCode === 0,
      { namespace: guest.name, timeoutMs: 20_000, intervalMs: 100 },
    );
    return guest;
  } catch (e) {
    await guest.close();
    throw e;
  }
}
