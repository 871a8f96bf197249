import type { RouteEntry, RouteSnapshot, RouteSource } from './route-source.js';

/**
 * Routes held in memory, for tests and for programs that build routes in code. Changes
 * are delivered synchronously. `setConnected(false)` imitates a lost store: the source
 * stops delivering and reports not synced until `setConnected(true)` delivers afresh.
 */
export class MemoryRouteSource implements RouteSource {
  readonly kind = 'memory';
  private readonly entries = new Map<string, RouteEntry>();
  private listener: ((snapshot: RouteSnapshot) => void) | undefined;
  private state: 'new' | 'started' | 'closed' = 'new';
  private up = true;
  private delivered = false;

  /** Routes to begin with (each keyed by its `id`). */
  constructor(routes: readonly unknown[] = []) {
    for (const r of routes) this.entries.set(idOf(r), entryFor(idOf(r), r));
  }

  async start(onSnapshot: (snapshot: RouteSnapshot) => void): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'started';
    this.listener = onSnapshot;
    this.deliver();
  }

  async close(): Promise<void> {
    this.state = 'closed';
    this.listener = undefined;
  }

  get synced(): boolean {
    return this.state === 'started' && this.up && this.delivered;
  }

  get connected(): boolean {
    return this.state === 'started' && this.up;
  }

  /** Add or replace a route, keyed by its `id` field (or by `key` when given, to test a mismatch). */
  put(route: unknown, key: string = idOf(route)): void {
    this.entries.set(key, entryFor(key, route));
    this.deliver();
  }

  /** Store an undecodable entry, as a foreign writer might. */
  putUndecodable(key: string, reason: string): void {
    this.entries.set(key, {
      id: key,
      origin: `memory:${key}`,
      value: undefined,
      fingerprint: `!${reason}`,
      decodeError: reason,
    });
    this.deliver();
  }

  delete(key: string): void {
    if (this.entries.delete(key)) this.deliver();
  }

  /** Replace every route at once (one snapshot). */
  replaceAll(routes: readonly unknown[]): void {
    this.entries.clear();
    for (const r of routes) this.entries.set(idOf(r), entryFor(idOf(r), r));
    this.deliver();
  }

  setConnected(connected: boolean): void {
    this.up = connected;
    if (!connected) this.delivered = false;
    this.deliver();
  }

  private deliver(): void {
    if (this.state !== 'started' || !this.up || !this.listener) return;
    const snapshot: RouteSnapshot = { entries: [...this.entries.values()] };
    this.delivered = true;
    try {
      this.listener(snapshot);
    } catch {
      // A listener's failure is its own; the source goes on (RouteStore never throws here).
    }
  }
}

function idOf(route: unknown): string {
  const id = (route as { id?: unknown } | null)?.id;
  return typeof id === 'string' ? id : String(id);
}

function entryFor(key: string, route: unknown): RouteEntry {
  return { id: key, origin: `memory:${key}`, value: route, fingerprint: JSON.stringify(route) ?? 'undefined' };
}
