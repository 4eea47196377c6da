/**
 * The gateway's ARP responder (RFC 826): answers requests for the addresses the gateway owns
 * (gateway IP, host-loopback alias, any extra) with the gateway MAC, learns every sender into the
 * neighbour cache (requests, replies and gratuitous ARP alike, RFC 826 "merge" step), and never
 * answers for guests: they answer for themselves across the switch.
 * @module
 */
import { arpOp, ArpOp, arpSenderIp, arpSenderMac, arpTargetIp, ARP_LEN, writeArp } from '../wire/arp.js';
import { Drop, type DropCode } from '../wire/drop.js';
import { ETH_HLEN, EtherType, ETH_MIN_FRAME, writeEthernet } from '../wire/ethernet.js';
import type { FrameInfo } from '../wire/frame-info.js';
import type { Switch } from '../switch/switch.js';
import type { Neighbours } from './neighbours.js';

/** The ARP responder. */
export class ArpResponder {
  /** Requests answered, for stats. */
  replies = 0;

  constructor(
    private readonly sw: Switch,
    private readonly neighbours: Neighbours,
    private readonly mac: number,
    /** Whether the gateway answers for `ip`. */
    private readonly owns: (ip: number) => boolean,
    /** Whether a sender address may be learnt (inside the subnet, not one of ours). */
    private readonly learnable: (ip: number) => boolean,
  ) {}

  /** Handles a checked ARP packet. */
  input(info: FrameInfo): DropCode {
    const b = info.buf;
    const a = info.l3;
    const senderIp = arpSenderIp(b, a);
    const senderMac = arpSenderMac(b, a);
    // 0.0.0.0 is an ARP probe (RFC 5227 §2.1.1): nothing to learn, never a conflict for us.
    if (senderIp !== 0 && this.learnable(senderIp)) this.neighbours.learn(senderIp, senderMac);
    if (arpOp(b, a) !== ArpOp.Request) return Drop.None;
    const target = arpTargetIp(b, a);
    if (!this.owns(target)) return Drop.None;
    const out = this.sw.begin(senderMac, ETH_MIN_FRAME);
    if (out === undefined) return Drop.TxFull;
    const o = this.sw.txOff;
    writeEthernet(out, o, senderMac, this.mac, EtherType.ARP);
    writeArp(out, o + ETH_HLEN, ArpOp.Reply, this.mac, target, senderMac, senderIp);
    out.fill(0, o + ETH_HLEN + ARP_LEN, o + ETH_MIN_FRAME);
    this.sw.commit(ETH_MIN_FRAME);
    this.replies++;
    return Drop.None;
  }
}
