/**
 * The gateway's own count of what went wrong upstream (`switchyard_gateway_upstream_errors_total`
 * by reason, from its admin `/metrics`): read at the edges of each window, so the report
 * can show the failures the gateway absorbed (retried elsewhere) next to what clients saw.
 */
export type ErrorCounts = Map<string, number>;

const LINE = /^switchyard_gateway_upstream_errors_total\{([^}]*)\} (\d+(?:\.\d+)?)$/;

export async function upstreamErrors(adminUrl: string): Promise<ErrorCounts> {
  const counts: ErrorCounts = new Map();
  try {
    const res = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(2000) });
    for (const line of (await res.text()).split('\n')) {
      const m = LINE.exec(line);
      if (!m) continue;
      const route = /route="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
      const reason = /reason="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
      const key = `${route} ${reason}`;
      counts.set(key, (counts.get(key) ?? 0) + Number(m[2]));
    }
  } catch {
    // the gateway did not answer: no figures for this edge
  }
  return counts;
}

/** `chaos-http connect ×3, chaos-rpc no_instance ×12`, or '' when nothing grew. */
export function errorsBetween(before: ErrorCounts, after: ErrorCounts): string {
  return [...after]
    .map(([key, n]) => [key, n - (before.get(key) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([key, n]) => `${key} ×${n}`)
    .join(', ');
}
