/** The console's API client: token in sessionStorage (never a URL query), bearer on every call. */
const KEY = 'switchyard.console.token';

export function takeTokenFromFragment(): void {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]!));
    // Out of the address bar and the history: the fragment never left the browser, keep it that way.
    history.replaceState(null, '', location.pathname);
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY) ?? '',
  set: (t: string) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { code?: string; message?: string; details?: unknown },
  ) {
    super(body.message ?? `HTTP ${status}`);
  }
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token.get();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

export async function api<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/console/api/${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: headers(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

/**
 * Server-Sent Events over fetch (EventSource cannot send an Authorization header).
 * Reconnects after a second until `signal` aborts.
 */
export async function subscribe(
  onEvent: (event: string, data: unknown) => void,
  onState: (connected: boolean) => void,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    try {
      const res = await fetch('/console/api/events', { headers: headers(), signal });
      if (!res.ok || !res.body) throw new ApiError(res.status, {});
      onState(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i = buf.indexOf('\n\n');
        while (i >= 0) {
          dispatch(buf.slice(0, i), onEvent);
          buf = buf.slice(i + 2);
          i = buf.indexOf('\n\n');
        }
      }
    } catch {
      // fall through to the retry below
    }
    onState(false);
    if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
  }
}

function dispatch(frame: string, onEvent: (event: string, data: unknown) => void): void {
  let event = 'message';
  let data = '';
  for (const line of frame.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (data) onEvent(event, JSON.parse(data));
}
