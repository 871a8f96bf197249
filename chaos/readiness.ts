/**
 * Polls the gateway's admin `/readyz` through the run, so the report can say how long
 * the gateway told a load balancer it was not ready during each fault, and why.
 */
export interface ReadySample {
  at: number;
  ready: boolean;
  /**
   * Names of the failing checks (`registry`, `routes`, `transport`, ...) or `unreachable`;
   * with `ready` true, the gateway is serving degraded (readyWhileDegraded).
   */
  failing: string[];
  /** How long the answer took, ms: a stalled gateway event loop shows here. */
  tookMs: number;
}

export class ReadinessProbe {
  readonly samples: ReadySample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(private readonly adminUrl: string) {}

  start(intervalMs = 250): void {
    this.#timer = setInterval(() => {
      if (this.#busy) return;
      this.#busy = true;
      this.#poll().finally(() => {
        this.#busy = false;
      });
    }, intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #poll(): Promise<void> {
    const at = Date.now();
    try {
      const res = await fetch(`${this.adminUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { checks?: Record<string, { ready?: boolean }> };
      const failing = Object.entries(body.checks ?? {})
        .filter(([, c]) => c.ready === false)
        .map(([name]) => name);
      this.samples.push({ at, ready: res.ok, failing, tookMs: Date.now() - at });
    } catch {
      this.samples.push({ at, ready: false, failing: ['unreachable'], tookMs: Date.now() - at });
    }
  }
}
