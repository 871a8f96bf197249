import type {
  BidiCall,
  BidiCallOptions,
  CallOptions,
  EventHandler,
  Headers,
  MethodDefinition,
  PublishOptions,
  PublishReceipt,
  ServeOptions,
  Server,
  StreamCallOptions,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportEvents,
  TransportState,
} from '@switchyard/broker';
import { failedBidiCall, toSwitchyardError } from '@switchyard/broker';
import { AUTH_HEADER } from './auth-headers.js';
import type { MessageGuard } from './message-guard.js';

/** Where the sending side gets its own token (a TokenClient, or a fixed token in tests). */
export interface TokenProvider {
  token(): string;
}

export interface SecuredTransportOptions {
  /** The sender's identity: its token goes on every request and event. */
  identity: TokenProvider;
  /** Checks every incoming request and event before its handler. */
  guard: MessageGuard;
  /** Events whose token expired up to this long ago are still accepted (they may wait in a queue). Default 86400. */
  eventGraceSec?: number;
}

export const DEFAULT_EVENT_GRACE_SEC = 86_400;

/**
 * A view of a transport with service identity on every hop: outgoing requests and
 * events carry this sender's token; incoming ones are verified (token, rules) before
 * the handler runs, and refused with UNAUTHENTICATED / PERMISSION_DENIED otherwise
 * (refused events are dead-lettered at once, reason `refused`). The wire format is the
 * inner transport's plus one header, so any transport works underneath. It does not own
 * the inner transport: start() and close() leave it alone.
 */
export class SecuredTransport implements Transport {
  readonly #inner: Transport;
  readonly #identity: TokenProvider;
  readonly #guard: MessageGuard;
  readonly #graceSec: number;

  constructor(inner: Transport, options: SecuredTransportOptions) {
    this.#inner = inner;
    this.#identity = options.identity;
    this.#guard = options.guard;
    this.#graceSec = options.eventGraceSec ?? DEFAULT_EVENT_GRACE_SEC;
  }

  get kind(): string {
    return this.#inner.kind;
  }

  get state(): TransportState {
    return this.#inner.state;
  }

  get namespace(): string {
    return this.#inner.namespace;
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  async close(): Promise<void> {}

  #headers(headers: Headers | undefined): Headers {
    const out: Headers = headers === undefined ? {} : { ...headers };
    out[AUTH_HEADER.serviceToken] = this.#identity.token();
    return out;
  }

  publish(topic: string, payload: unknown, options: PublishOptions = {}): Promise<PublishReceipt> {
    let headers: Headers;
    try {
      headers = this.#headers(options.headers);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#inner.publish(topic, payload, { ...options, headers });
  }

  subscribe(topic: string, handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
    const guard = this.#guard;
    const grace = this.#graceSec;
    return this.#inner.subscribe(
      topic,
      (event) => {
        let known: unknown;
        try {
          known = guard.checkCached(event, 'event', event.topic, grace);
        } catch (err) {
          return Promise.reject(err);
        }
        return known !== undefined
          ? handler(event)
          : guard.check(event, 'event', event.topic, grace).then(() => handler(event));
      },
      options,
    );
  }

  serve(service: string, methods: Record<string, MethodDefinition>, options?: ServeOptions): Promise<Server> {
    const guard = this.#guard;
    const guarded: Record<string, MethodDefinition> = {};
    for (const [name, def] of Object.entries(methods)) {
      const resource = `${service}.${name}`;
      const inner = def.handler;
      guarded[name] = {
        ...def,
        // Not async: a request whose token was verified before goes to the handler without a promise of ours.
        handler: (req) => {
          let known: unknown;
          try {
            known = guard.checkCached(req, 'service', resource, 0);
          } catch (err) {
            return Promise.reject(err);
          }
          return known !== undefined ? inner(req) : guard.check(req, 'service', resource, 0).then(() => inner(req));
        },
      };
    }
    return this.#inner.serve(service, guarded, options);
  }

  call(service: string, method: string, payload: unknown, options: CallOptions = {}): Promise<unknown> {
    let headers: Headers;
    try {
      headers = this.#headers(options.headers);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#inner.call(service, method, payload, { ...options, headers });
  }

  stream(
    service: string,
    method: string,
    payload: unknown,
    options: StreamCallOptions = {},
  ): AsyncIterableIterator<unknown> {
    let headers: Headers;
    try {
      headers = this.#headers(options.headers);
    } catch (err) {
      // Never throws, as the Transport contract says: the failure comes out of the first next().
      return failedBidiCall('', toSwitchyardError(err));
    }
    return this.#inner.stream(service, method, payload, { ...options, headers });
  }

  /** The token goes on the request only: the stream's items travel to the server's own reply address (docs/protocol.md §7, §9). */
  bidi(service: string, method: string, options: BidiCallOptions = {}): BidiCall {
    let headers: Headers;
    try {
      headers = this.#headers(options.headers);
    } catch (err) {
      return failedBidiCall('', toSwitchyardError(err));
    }
    return this.#inner.bidi(service, method, { ...options, headers });
  }

  on<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    this.#inner.on(event, listener);
    return this;
  }

  off<E extends keyof TransportEvents>(event: E, listener: TransportEvents[E]): this {
    this.#inner.off(event, listener);
    return this;
  }
}
