/**
 * Our client ⇄ our server over a real Unix socket in a temp dir: full handshakes, then the
 * frame phase in both directions through {@link FrameDecoder}, including frames the client
 * pipelined behind its Command before reading anything.
 */
import type { Duplex } from 'node:stream';
import { err, ok } from 'neverthrow';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRng } from '../../../src/runtime/rng.js';
import { ManualScheduler } from '../../../src/runtime/scheduler.js';
import { vmnetClientHandshake } from '../../../src/transports/vmnet/client-handshake.js';
import { FrameDecoder, vmnetFraming } from '../../../src/transports/framing.js';
import { vmnetServerHandshake, type VmnetAssign, type VmnetAssignRequest } from '../../../src/transports/vmnet/handshake.js';
import { parseIpv4 } from '../../../src/wire/address.js';
import { encodeCommand, encodeInit } from '../../../src/transports/vmnet/messages.js';
import { unixServer } from './helpers.js';

const UUID = 'c3d68012-0208-11ea-9fd7-f2189899ab08';

/** A tiny vpnkit-like table (§1.7): UUID → port id; MAC 02:50 + id; refuses a taken preferred IP. */
function network(): { assign: VmnetAssign; calls: VmnetAssignRequest[] } {
  const byUuid = new Map<string, { id: number; ip: number | undefined }>();
  const calls: VmnetAssignRequest[] = [];
  let nextId = 1;
  const assign: VmnetAssign = (req) => {
    calls.push(req);
    let entry = byUuid.get(req.uuid);
    if (entry === undefined) {
      if (req.preferredIp !== undefined && [...byUuid.values()].some((e) => e.ip === req.preferredIp)) {
        return err({ reason: 'Preferred IP address already used.' });
      }
      entry = { id: nextId++, ip: req.preferredIp };
      byUuid.set(req.uuid, entry);
    }
    const mac = Buffer.from([0x02, 0x50, 0, 0, 0, 0]);
    mac.writeUInt32BE(entry.id, 2);
    return ok({ mac, mtu: 1500 });
  };
  return { assign, calls };
}

/** A frame with its u16 LE length prefix (protocols.md §1.6). */
function encodeFrame(f: Buffer): Buffer {
  const b = Buffer.alloc(2 + f.length);
  vmnetFraming.write(b, 0, f.length);
  f.copy(b, 2);
  return b;
}

/** Receives frames from `s` (after a handshake handed it over with `rest`). */
function frameSink(s: Duplex, rest: Buffer, max: number): { frames: Buffer[]; waitFor: (n: number) => Promise<Buffer[]> } {
  const frames: Buffer[] = [];
  let want = Infinity;
  let wake: (() => void) | undefined;
  const dec = new FrameDecoder(vmnetFraming, max, (b, o, l) => frames.push(Buffer.from(b.subarray(o, o + l))), () => s.destroy());
  const check = (): void => {
    if (frames.length >= want && wake) wake();
  };
  dec.push(rest);
  s.on('data', (c: Buffer) => {
    dec.push(c);
    check();
  });
  s.on('error', () => {});
  s.resume();
  return {
    frames,
    waitFor: (n) =>
      new Promise((r) => {
        want = n;
        wake = () => r(frames.slice(0, n));
        check();
      }),
  };
}

test('full handshake both commands, then frames both ways', async () => {
  const srv = await unixServer();
  const net = network();
  const scheduler = new ManualScheduler();
  try {
    const ip = parseIpv4('192.168.65.10')!;
    for (const preferredIp of [undefined, ip]) {
      const uuid = preferredIp === undefined ? UUID : 'aaaaaaaa-0208-11ea-9fd7-f2189899ab08';
      const c = await srv.connect();
      const s = await srv.next();
      const serverSide = vmnetServerHandshake(s, { assign: net.assign, scheduler, rng: new SeededRng(3) });
      const client = (await vmnetClientHandshake(c, { uuid, scheduler, ...(preferredIp === undefined ? {} : { preferredIp }) }))._unsafeUnwrap();
      const session = (await serverSide)._unsafeUnwrap();
      assert.is(client.type, 'vif');
      if (client.type !== 'vif') return;
      assert.equal(client.vif.mac, session.mac);
      assert.is(session.preferredIp, preferredIp);
      assert.equal(net.calls.at(-1), preferredIp === undefined ? { uuid, generated: false } : { uuid, generated: false, preferredIp });

      const toServer = frameSink(s, session.rest, session.maxPacketSize);
      const toClient = frameSink(c, client.rest, client.vif.maxPacketSize);
      const up = [Buffer.alloc(60, 1), Buffer.alloc(1514, 2)];
      const down = [Buffer.alloc(42, 3)];
      for (const f of up) c.write(encodeFrame(f));
      for (const f of down) s.write(encodeFrame(f));
      assert.equal(await toServer.waitFor(2), up);
      assert.equal(await toClient.waitFor(1), down);
    }
    assert.equal(
      net.calls.map((r) => r.uuid),
      [UUID, 'aaaaaaaa-0208-11ea-9fd7-f2189899ab08'],
    );
    assert.is(scheduler.size, 0);
  } finally {
    await srv.close();
  }
});

test('the Disconnect reason reaches our client', async () => {
  const srv = await unixServer();
  const net = network();
  const scheduler = new ManualScheduler();
  try {
    const ip = parseIpv4('192.168.65.3')!;
    const c1 = await srv.connect();
    const s1 = await srv.next();
    const first = vmnetServerHandshake(s1, { assign: net.assign, scheduler, rng: new SeededRng(3) });
    assert.is((await vmnetClientHandshake(c1, { uuid: UUID, preferredIp: ip, scheduler }))._unsafeUnwrap().type, 'vif');
    assert.ok((await first).isOk());

    const c2 = await srv.connect();
    const s2 = await srv.next();
    const second = vmnetServerHandshake(s2, { assign: net.assign, scheduler, rng: new SeededRng(3) });
    const r = (await vmnetClientHandshake(c2, { uuid: null, preferredIp: ip, scheduler }))._unsafeUnwrap();
    assert.equal(r, { type: 'disconnect', reason: 'Preferred IP address already used.', serverInit: r.serverInit });
    const e = (await second)._unsafeUnwrapErr();
    assert.is(e.kind, 'refused');
  } finally {
    await srv.close();
  }
});

test('frames pipelined with Init and Command in one write are not lost', async () => {
  const srv = await unixServer();
  const net = network();
  try {
    const c = await srv.connect();
    const s = await srv.next();
    const frames = Array.from({ length: 50 }, (_, i) => Buffer.alloc(100 + i, i));
    c.write(
      Buffer.concat([
        encodeInit({ magic: 'VMN3T', version: 22, commit: '' })._unsafeUnwrap(),
        encodeCommand({ type: 'ethernet', uuid: UUID })._unsafeUnwrap(),
        ...frames.map((f) => encodeFrame(f)),
      ]),
    );
    c.on('data', () => {});
    const session = (await vmnetServerHandshake(s, { assign: net.assign, scheduler: new ManualScheduler(), rng: new SeededRng(1) }))._unsafeUnwrap();
    const sink = frameSink(s, session.rest, session.maxPacketSize);
    assert.equal(await sink.waitFor(50), frames);
  } finally {
    await srv.close();
  }
});

test.run();
