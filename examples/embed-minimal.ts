/**
 * The README's ten-line API example as a program: one network listening for QEMU and HyperKit
 * VMs on sockets in a temp directory, every event printed, the first leased guest's port exposed
 * on host 127.0.0.1, until a timeout or Ctrl-C. Then stats, and a clean close.
 *
 *   node --import tsx examples/embed-minimal.ts [--seconds 60] [--expose 22] [--host-port 0] [--dns-upstream IP[:PORT]]...
 *
 * Boot a VM against the printed socket, e.g. QEMU:
 *   -netdev stream,id=n0,server=off,addr.type=unix,addr.path=<qemu socket> -device virtio-net-pci,netdev=n0
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { VirtualNetwork, type ExposeHandle } from '../src/index.js';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    expose: { type: 'string', default: '22' },
    'host-port': { type: 'string', default: '0' },
    'dns-upstream': { type: 'string', multiple: true },
  },
});
const dir = await mkdtemp(join(tmpdir(), 'vnetkit-'));

// --- the README example, with temp sockets and a free host port ---------------------------------
const net = VirtualNetwork.create({
  subnet: '192.168.65.0/24',
  allow: ['127.0.0.0/8'],
  ...(flags['dns-upstream'] ? { dnsUpstreams: flags['dns-upstream'] } : {}),
})._unsafeUnwrap();
for (const name of ['nic-attached', 'nic-detached', 'lease', 'release', 'error'] as const) {
  net.on(name, (e: object) => console.log(`event ${name} ${JSON.stringify(e)}`));
}
(await net.listenQemu(join(dir, 'vm.sock')))._unsafeUnwrap(); // QEMU -netdev stream
(await net.listenHyperkit(join(dir, 'vpnkit.eth.sock')))._unsafeUnwrap(); // hyperkit -s 1:0,virtio-vpnkit,path=...
console.log(`listening: qemu ${join(dir, 'vm.sock')}`);
console.log(`listening: hyperkit ${join(dir, 'vpnkit.eth.sock')}`);

// exposePort picks "the only leased guest" when none is named, so it waits for one.
let exposed: ExposeHandle | undefined;
net.once('lease', (l) => {
  void net.exposePort({ guestPort: Number(flags.expose), hostPort: Number(flags['host-port']) }).then((r) =>
    r.match(
      (h) => {
        exposed = h;
        console.log(`exposed: http://127.0.0.1:${h.hostPort}/ -> ${h.guestIp}:${h.guestPort}`);
      },
      (e) => console.log(`expose failed: ${e.message}`),
    ),
  );
});

// --- until the timeout or Ctrl-C, then stats and a clean close ----------------------------------
const why = await new Promise<string>((resolve) => {
  const timer = setTimeout(() => resolve('timeout'), Number(flags.seconds) * 1000);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      clearTimeout(timer);
      resolve(sig);
    });
  }
});
console.log(`stopping (${why})`);
console.log(`stats: ${JSON.stringify(net.stats())}`);
await exposed?.close();
await net.close();
await rm(dir, { recursive: true, force: true });
console.log('closed'); // nothing is left holding the event loop, so the process ends here
