import type { IncomingMessage, ServerResponse } from 'node:http';
import { CancelledError, type Headers, type Transport, toSwitchyardError } from '@switchyard/broker';
import type { RegistryView } from '@switchyard/sdk';
import type { HttpErrorBody } from '../http/error-response.js';
import type { RpcTarget } from '../routing/route-types.js';

/** How a stream goes to the HTTP client. */
export type StreamFraming = 'sse' | 'ndjson';

export const NDJSON_TYPE = 'application/x-ndjson; charset=utf-8';
export const SSE_TYPE = 'text/event-stream; charset=utf-8';

/** `text/event-stream` when the client's `Accept` names it (EventSource always does); NDJSON otherwise. */
export function framingOf(accept: string | undefined): StreamFraming {
  return accept !== undefined && /(^|,)\s*text\/event-stream\s*(;|,|$)/i.test(accept) ? 'sse' : 'ndjson';
}

/** One item as a chunk: an NDJSON line, or an SSE `data:` event (JSON has no raw newlines, so one line). */
function itemChunk(framing: StreamFraming, item: unknown): string {
  const json = JSON.stringify(item ?? null);
  return framing === 'sse' ? `data: ${json}\n\n` : `${json}\n`;
}

/** The last chunk of a failed stream: `event: error` (SSE) or a line `{"error": {...}}` (NDJSON). */
function errorChunk(framing: StreamFraming, err: unknown, requestId: string): string {
  const body: HttpErrorBody = { ...toSwitchyardError(err).toJSON(), requestId };
  return framing === 'sse' ? `event: error\ndata: ${JSON.stringify(body)}\n\n` : `${JSON.stringify({ error: body })}\n`;
}

/** What the bridge reports back to the RPC bridge, for its span and upstream metrics. */
export interface StreamOutcome {
  /** The stream failed after the response had started (the client got the error in-band); undefined when it ended cleanly. */
  error: unknown;
}

/** Whether the registry says `service.method` streams (the first instance that lists the method speaks for it). */
export function isStreamingMethod(view: RegistryView, service: string, method: string): boolean {
  for (const instance of view.instances(service)) {
    const info = instance.methods[method];
    if (info !== undefined) return info.streaming === true;
  }
  return false;
}

/**
 * The `rpc` target when the method is server-streaming (its registry record says
 * `streaming: true`): the payload opens `transport.stream()` and each item goes out as it
 * arrives, chunked, as SSE (`Accept: text/event-stream`, or always on a route with
 * `stream: sse`) or NDJSON (the default).
 *
 * The status is sent with the first answer: a stream that fails before its first item
 * (no server, invalid request, denied) rejects like a unary call, and the pipeline writes
 * the usual JSON error with its HTTP status. After that the status is 200, so a failure
 * comes as a last `event: error` / `{"error": ...}` chunk with the stable code, and a clean
 * end as `event: end` (SSE; NDJSON just ends). The next item is pulled only once the
 * client's socket took the last one (`drain`), so a slow HTTP client holds the service
 * back through the transport's credit window; a client that goes away cancels the stream.
 */
export class StreamBridge {
  readonly #transport: Transport;
  readonly #keepAliveMs: number;

  /** `keepAliveMs`: an SSE stream quiet this long gets a comment line (0: never). */
  constructor(transport: Transport, keepAliveMs = 0) {
    this.#transport = transport;
    this.#keepAliveMs = keepAliveMs;
  }

  /** Rejects only before the response started; later failures are reported in-band and returned. */
  async stream(
    req: IncomingMessage,
    res: ServerResponse,
    target: Readonly<RpcTarget>,
    payload: unknown,
    headers: Headers,
    deadline: number,
    requestId: string,
  ): Promise<StreamOutcome> {
    // `stream: sse` routes serve EventSource-style clients that may not send Accept.
    const framing = target.stream === 'sse' ? 'sse' : framingOf(req.headers.accept);
    const controller = new AbortController();
    const gone = () => {
      if (!res.writableFinished) controller.abort(new CancelledError('the HTTP client went away'));
    };
    res.on('close', gone);
    const items = this.#transport.stream(target.service, target.method, payload, {
      deadline,
      timeoutMs: Math.max(1, deadline - Date.now()),
      headers,
      signal: controller.signal,
    });
    try {
      let r = await items.next();
      res.writeHead(200, {
        'content-type': framing === 'sse' ? SSE_TYPE : NDJSON_TYPE,
        'cache-control': 'no-store',
        // Proxies in front of the gateway (nginx) must pass chunks on as they come.
        'x-accel-buffering': 'no',
      });
      if (req.method === 'HEAD') {
        await items.return?.();
        res.end();
        return { error: undefined };
      }
      res.flushHeaders();
      const keepAlive = framing === 'sse' && this.#keepAliveMs > 0 ? new KeepAlive(res, this.#keepAliveMs) : undefined;
      try {
        while (!r.done) {
          keepAlive?.wrote();
          if (!res.write(itemChunk(framing, r.value))) await drained(res);
          if (controller.signal.aborted) throw controller.signal.reason;
          r = await items.next();
        }
      } catch (err) {
        if (!res.destroyed) res.end(errorChunk(framing, err, requestId));
        return { error: err };
      } finally {
        keepAlive?.stop();
      }
      res.end(framing === 'sse' ? 'event: end\ndata: {}\n\n' : undefined);
      return { error: undefined };
    } catch (err) {
      // Before the first chunk: the pipeline answers with the error's status.
      await items.return?.();
      throw err;
    } finally {
      res.off('close', gone);
    }
  }
}

/**
 * SSE comment lines (`: keep-alive`) while a stream is quiet: EventSource ignores them,
 * and they keep idle-timeout proxies from cutting a stream that is only waiting. NDJSON
 * gets none (a blank line is not valid NDJSON for every reader).
 */
class KeepAlive {
  #last = Date.now();
  readonly #timer: NodeJS.Timeout;

  constructor(res: ServerResponse, everyMs: number) {
    // Checked at half the interval, so a quiet stream hears from us within 1.5 × everyMs.
    this.#timer = setInterval(
      () => {
        if (Date.now() - this.#last < everyMs || res.writableEnded || res.destroyed) return;
        this.#last = Date.now();
        res.write(': keep-alive\n\n');
      },
      Math.max(1, Math.floor(everyMs / 2)),
    );
    this.#timer.unref();
  }

  wrote(): void {
    this.#last = Date.now();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Resolves when the socket drained, or the client went away (the caller checks which). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
