/**
 * Liveness of one bidi stream (docs/protocol.md §9, "Lost peers"): a ping goes out when
 * this side has sent nothing for a third of the interval, and the peer is given up when
 * nothing came from it for a whole interval. One timer per stream, ticking at a third of
 * the interval; sending and receiving only write a timestamp.
 */
export class Heartbeat {
  private lastSent: number;
  private lastReceived: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly ping: () => void,
    private readonly lost: () => void,
  ) {
    this.lastSent = this.lastReceived = Date.now();
  }

  start(): void {
    if (this.timer) return;
    this.lastSent = this.lastReceived = Date.now();
    this.timer = setInterval(Heartbeat.tick, Math.max(1, Math.floor(this.intervalMs / 3)), this);
    this.timer.unref();
  }

  sent(): void {
    this.lastSent = Date.now();
  }

  received(): void {
    this.lastReceived = Date.now();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private static tick(hb: Heartbeat): void {
    const now = Date.now();
    if (now - hb.lastReceived >= hb.intervalMs) {
      hb.stop();
      hb.lost();
      return;
    }
    // A little under a third, so a tick a millisecond early still pings in time.
    if (now - hb.lastSent >= hb.intervalMs / 3 - 5) {
      hb.lastSent = now;
      hb.ping();
    }
  }
}
