/**
 * The retransmission-timeout estimator of RFC 6298: smoothed RTT and its variance, the RTO derived
 * from them, clamped between a floor and a ceiling, and exponential backoff on expiry.
 * @module
 */

/** RFC 6298 §2.3: alpha = 1/8. */
const ALPHA = 1 / 8;
/** RFC 6298 §2.3: beta = 1/4. */
const BETA = 1 / 4;
/** RFC 6298 §2.2: K = 4. */
const K = 4;
/** Clock granularity G in ms (our clock counts milliseconds; RFC 6298 §2.2/§4). */
const G = 1;

/** Smoothed RTT, variance and RTO for one connection. */
export class RttEstimator {
  /** Smoothed round-trip time, ms (meaningful once {@link hasSample}). */
  srtt = 0;
  /** Round-trip time variation, ms. */
  rttvar = 0;
  hasSample = false;
  /** Number of consecutive backoffs applied since the last sample. */
  backoff = 0;
  private base: number;

  constructor(
    /** RFC 6298 §2.1: the RTO before any sample (1 s). */
    readonly initialRto: number,
    /** Floor of the RTO. RFC 6298 §2.4 says 1 s for the Internet; a virtual link can go lower. */
    readonly minRto: number,
    /** Ceiling of the RTO (RFC 6298 §2.5 allows ≥ 60 s). */
    readonly maxRto: number,
  ) {
    this.base = initialRto;
  }

  /** Feeds one measurement `r` (ms). RFC 6298 §2.2/§2.3; a fresh sample also ends backoff (§5.7). */
  sample(r: number): void {
    if (r < 0) return;
    if (!this.hasSample) {
      this.srtt = r;
      this.rttvar = r / 2;
      this.hasSample = true;
    } else {
      this.rttvar = (1 - BETA) * this.rttvar + BETA * Math.abs(this.srtt - r);
      this.srtt = (1 - ALPHA) * this.srtt + ALPHA * r;
    }
    this.base = this.srtt + Math.max(G, K * this.rttvar);
    this.backoff = 0;
  }

  /** The current RTO in ms, backoff included, clamped to [minRto, maxRto]. */
  get rto(): number {
    let r = Math.max(this.minRto, this.base);
    for (let i = 0; i < this.backoff && r < this.maxRto; i++) r *= 2;
    return Math.min(r, this.maxRto);
  }

  /** Doubles the RTO after an expiry (RFC 6298 §5.5). */
  backOff(): void {
    if (this.backoff < 30) this.backoff++;
  }
}
