/**
 * Which destinations guests may reach on the host's network (cli.md `--allow`/`--deny`). Checked
 * before any host socket is opened. The host-loopback alias is checked as the address it maps to
 * (127.0.0.1), so `--allow 127.0.0.0/8` is what lets guests reach host services. Rules: a deny
 * match refuses; with any allow rule, only allow matches pass; otherwise everything passes.
 * @module
 */
import { cidrContains, formatCidr, type Ipv4Cidr } from '../wire/address.js';

/** Transport protocols the policy is asked about. */
export type EgressProtocol = 'tcp' | 'udp' | 'icmp';

/** Counters of policy decisions. */
export interface EgressStats {
  allowed: number;
  denied: number;
  deniedByProtocol: Record<EgressProtocol, number>;
}

/** The egress policy of one network; rules can be replaced at runtime. */
export class EgressPolicy {
  private allow: Ipv4Cidr[];
  private deny: Ipv4Cidr[];
  readonly stats: EgressStats = { allowed: 0, denied: 0, deniedByProtocol: { tcp: 0, udp: 0, icmp: 0 } };

  constructor(allow: Ipv4Cidr[] = [], deny: Ipv4Cidr[] = []) {
    this.allow = allow;
    this.deny = deny;
  }

  /** Replaces the rules. */
  setRules(allow: Ipv4Cidr[], deny: Ipv4Cidr[]): void {
    this.allow = allow;
    this.deny = deny;
  }

  /** The current rules as CIDR strings. */
  rules(): { allow: string[]; deny: string[] } {
    return { allow: this.allow.map(formatCidr), deny: this.deny.map(formatCidr) };
  }

  /** Whether a guest may reach host-side address `ip` (already mapped: alias → 127.0.0.1); counts. */
  permits(ip: number, protocol: EgressProtocol): boolean {
    const ok = this.decide(ip);
    if (ok) this.stats.allowed++;
    else {
      this.stats.denied++;
      this.stats.deniedByProtocol[protocol]++;
    }
    return ok;
  }

  /** The decision without counting. */
  decide(ip: number): boolean {
    // UNROUTABLE (address-map.ts): a destination no rule can open, such as a direct 127.0.0.1.
    if (ip < 0) return false;
    for (const c of this.deny) if (cidrContains(c, ip)) return false;
    if (this.allow.length === 0) return true;
    for (const c of this.allow) if (cidrContains(c, ip)) return true;
    return false;
  }
}
