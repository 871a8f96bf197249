/**
 * Where routes come from. A source delivers whole snapshots — every route it currently
 * holds — never deltas, so a consumer can never drift from it: it recompiles only the
 * entries whose fingerprint changed. Implementations: `EtcdRouteSource` (deployments),
 * `FileRouteSource` (embedded mode), `MemoryRouteSource` (tests).
 */
export interface RouteSource {
  /** For logs and status: 'etcd', 'file', 'memory'. */
  readonly kind: string;
  /**
   * Begin delivering snapshots to `onSnapshot` (the first one as soon as the source has
   * read its store). Idempotent. Resolves once the first read was attempted; a store that
   * is down does not reject it — the source keeps retrying and `synced` stays false. A
   * configuration mistake may reject it (a routes file that is missing or unparsable).
   * A listener that throws is logged and never breaks the source.
   */
  start(onSnapshot: (snapshot: RouteSnapshot) => void): Promise<void>;
  /** Idempotent. No snapshot is delivered after it resolves. */
  close(): Promise<void>;
  /** The last delivered snapshot reflects the store now (false before the first one, and while cut off). */
  readonly synced: boolean;
  /** The source can currently reach its store. */
  readonly connected: boolean;
}

export interface RouteSnapshot {
  readonly entries: readonly RouteEntry[];
}

/** One route as its source holds it, not yet validated. */
export interface RouteEntry {
  /**
   * The id the entry's location claims, which the route's own `id` must equal (etcd: the
   * key's last segment). For a file item, its `id` field when that is a string.
   * undefined when unknown.
   */
  readonly id: string | undefined;
  /** Where it is, for messages: the etcd key, or `file#index`. */
  readonly origin: string;
  /** The decoded route (undefined when `decodeError` is set). */
  readonly value: unknown;
  /** Equal fingerprints mean equal content: the consumer skips recompiling. */
  readonly fingerprint: string;
  /** Set when the stored bytes could not be decoded (not JSON, key outside the layout, ...). */
  readonly decodeError?: string;
}
