/**
 * The server's side of RPC (docs/protocol.md §4-§6): one consumer on the service's
 * request queue, competing with every other instance of the service.
 *
 * Each request is answered on the reply channel (publishing connection) and acked only
 * after the reply went out, so an instance that dies mid-call leaves the request to
 * another. Errors travel as JSON bodies; an error that is not a SwitchyardError becomes
 * INTERNAL with a generic message, so internals never leak to a caller.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { bidiRefusal, checkBidiDefinition } from '../bidi/bidi-definition.js';
import type { BidiSession } from '../bidi/bidi-session.js';
import type { Codec, CodecRegistry } from '../codec.js';
import {
  DeadlineExceededError,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  InvalidOptionsError,
  isSwitchyardError,
  type SwitchyardError,
  toSwitchyardError,
  UnavailableError,
  UnimplementedError,
} from '../errors.js';
import type { MethodDefinition, ServeOptions, Server } from '../transport.js';
import { type BidiServerDeps, runBidiCall } from './bidi-server.js';
import type { RecoveringConnection } from './connection.js';
import { type ChannelSlot, ConsumerChannel, type ConsumerSpec } from './consumer-channel.js';
import { H, headerInt, headerString, STATUS, toStringHeaders } from './headers.js';
import { Request } from './incoming-request.js';
import { isValidName, type TransportLogger } from './options.js';
import { REPLY_HOLD_MS, type ReplyChannel } from './reply-channel.js';
import { StreamSender } from './stream-sender.js';
import { Topology } from './topology.js';

export interface RpcServerDeps {
  conn: RecoveringConnection;
  replies: ReplyChannel;
  topology: Topology;
  codecs: CodecRegistry;
  logger: TransportLogger;
  onError: (err: Error) => void;
  drainTimeoutMs: number;
}

/** Validate serve() arguments; throws InvalidOptionsError naming the bad one. */
export function validateServe(
  topology: Topology,
  service: unknown,
  methods: unknown,
  options: ServeOptions | undefined,
  defaultPrefetch: number,
): number {
  if (!isValidName(service) || !Topology.fits(topology.rpcQueue(service)))
    throw new InvalidOptionsError(
      `service must be 1-120 characters of letters, digits, '_', '-', '.', ':', got ${JSON.stringify(service)}`,
    );
  if (typeof methods !== 'object' || methods === null || Object.keys(methods).length === 0)
    throw new InvalidOptionsError('methods must name at least one method');
  for (const [name, def] of Object.entries(methods as Record<string, MethodDefinition>)) {
    if (typeof def?.handler !== 'function') throw new InvalidOptionsError(`methods.${name}.handler must be a function`);
    for (const hook of ['validateRequest', 'validateResponse'] as const)
      if (def[hook] !== undefined && typeof def[hook] !== 'function')
        throw new InvalidOptionsError(`methods.${name}.${hook} must be a function`);
    checkBidiDefinition(name, def);
  }
  const prefetch = options?.prefetch ?? defaultPrefetch;
  if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > 65_535)
    throw new InvalidOptionsError(`prefetch must be an integer 1-65535, got ${JSON.stringify(prefetch)}`);
  return prefetch;
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return typeof (v as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

function isIterable(v: unknown): v is Iterable<unknown> {
  return typeof (v as Iterable<unknown> | null)?.[Symbol.iterator] === 'function' && typeof v !== 'string';
}

async function* fromIterable(items: Iterable<unknown>): AsyncGenerator<unknown> {
  yield* items;
}

const ERROR_PROPS_TYPE = 'application/json';

export class RpcServer implements Server, ConsumerSpec {
  readonly label: string;
  private readonly consumer: ConsumerChannel;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly deps: RpcServerDeps,
    readonly service: string,
    private readonly methods: Record<string, MethodDefinition>,
    readonly prefetch: number,
    private readonly onClosed: (server: RpcServer) => void,
  ) {
    this.label = `server ${service}`;
    this.consumer = new ConsumerChannel(deps.conn, this, deps.logger, deps.onError);
  }

  open(): Promise<void> {
    return this.consumer.open();
  }

  private readonly bidiSessions = new Set<BidiSession>();

  private get bidiDeps(): BidiServerDeps {
    return {
      replies: this.deps.replies,
      codecs: this.deps.codecs,
      logger: this.deps.logger,
      sessions: this.bidiSessions,
    };
  }

  declare(ch: Channel): Promise<string> {
    return this.deps.topology.declareRpcQueue(ch, this.service);
  }

  onMessage(msg: ConsumeMessage, slot: ChannelSlot): void {
    this.consumer.track(this.handle(msg, slot));
  }

  private async handle(msg: ConsumeMessage, slot: ChannelSlot): Promise<void> {
    const props = msg.properties;
    const raw = props.headers as Record<string, unknown> | undefined;
    const replyTo = props.replyTo as string | undefined;
    const correlationId = props.correlationId as string | undefined;
    const deadline = headerInt(raw, H.deadline);
    if (!replyTo || !correlationId) {
      this.deps.logger.warn({ service: this.service }, 'request without reply_to or correlation_id dropped');
      slot.ack(msg);
      return;
    }
    if (deadline !== undefined && deadline <= Date.now()) {
      // The caller has given up already.
      slot.ack(msg);
      return;
    }
    try {
      await this.dispatch(msg, raw, replyTo, correlationId, deadline);
    } finally {
      slot.ack(msg);
    }
  }

  private async dispatch(
    msg: ConsumeMessage,
    raw: Record<string, unknown> | undefined,
    replyTo: string,
    correlationId: string,
    deadline: number | undefined,
  ): Promise<void> {
    const method = headerString(raw, H.method) ?? '';
    const def = Object.hasOwn(this.methods, method) ? this.methods[method] : undefined;
    if (!def) {
      this.replyError(
        replyTo,
        correlationId,
        deadline,
        new UnimplementedError(`service "${this.service}" has no method "${method}"`, {
          details: { service: this.service, method },
        }),
      );
      return;
    }
    const contentType = (msg.properties.contentType as string | undefined) ?? 'application/json';
    const streamKind = headerString(raw, H.streamKind);
    if (def.bidi !== undefined || streamKind !== undefined) {
      const refusal = bidiRefusal(this.service, method, def, streamKind, headerString(raw, H.streamVersion));
      if (refusal) {
        this.replyError(replyTo, correlationId, deadline, refusal);
        return;
      }
      await runBidiCall(this.bidiDeps, def, {
        id: correlationId,
        service: this.service,
        method,
        replyTo,
        contentType,
        raw,
        deadline,
        redelivered: msg.fields.redelivered,
      });
      return;
    }
    let codec: Codec;
    let payload: unknown;
    try {
      payload = this.deps.codecs.decode(msg.content, contentType);
      // The reply goes back in the request's codec: looked up as sent first, no string built per request.
      codec = this.deps.codecs.codecOf(contentType);
    } catch (err) {
      this.replyError(replyTo, correlationId, deadline, toSwitchyardError(err));
      return;
    }
    const isStreamCall = raw?.[H.streamWindow] !== undefined;
    if (Boolean(def.streaming) !== isStreamCall) {
      this.replyError(
        replyTo,
        correlationId,
        deadline,
        new FailedPreconditionError(
          def.streaming
            ? `${this.service}.${method} is a streaming method: call it as a stream`
            : `${this.service}.${method} is not a streaming method: call it as a unary call`,
        ),
      );
      return;
    }
    if (def.validateRequest) {
      try {
        def.validateRequest(payload);
      } catch (err) {
        this.replyError(
          replyTo,
          correlationId,
          deadline,
          isSwitchyardError(err) ? err : new InvalidArgumentError(`request is invalid: ${(err as Error)?.message}`),
        );
        return;
      }
    }
    const req = new Request(
      correlationId,
      this.service,
      method,
      payload,
      toStringHeaders(raw),
      codec.contentType,
      deadline,
      msg.fields.redelivered,
    );
    try {
      if (isStreamCall) await this.runStream(req, def, replyTo, codec, raw);
      else await this.runUnary(req, def, replyTo, codec);
    } finally {
      req.dispose();
    }
  }

  private async runUnary(req: Request, def: MethodDefinition, replyTo: string, codec: Codec): Promise<void> {
    let body: Buffer;
    try {
      const result = await def.handler(req);
      // A result that is ready only after the deadline must not pass for success: the
      // caller has given up (or is about to), and a handler that resolved on its aborted
      // signal has not really done the work.
      if (req.missedDeadline()) {
        throw new DeadlineExceededError(`${this.service}.${req.method} missed its deadline`);
      }
      if (def.validateResponse) {
        try {
          def.validateResponse(result);
        } catch (err) {
          this.deps.logger.error({ err, service: this.service, method: req.method }, 'reply failed validation');
          throw new InternalError(`${this.service}.${req.method} produced an invalid reply`);
        }
      }
      body = codec.encode(result);
    } catch (err) {
      this.replyError(replyTo, req.id, req.deadline, this.publicError(err, req.method));
      return;
    }
    this.send(replyTo, req.id, req.deadline, body, codec.contentType, STATUS.ok);
  }

  private async runStream(
    req: Request,
    def: MethodDefinition,
    replyTo: string,
    codec: Codec,
    raw: Record<string, unknown> | undefined,
  ): Promise<void> {
    const window = Math.max(1, headerInt(raw, H.streamWindow) ?? 16);
    let iterable: AsyncIterable<unknown>;
    try {
      const result = await def.handler(req);
      if (isAsyncIterable(result)) iterable = result;
      else if (isIterable(result)) iterable = fromIterable(result);
      else throw new InternalError(`${this.service}.${req.method} is streaming but returned no iterable`);
    } catch (err) {
      this.replyError(replyTo, req.id, req.deadline, this.publicError(err, req.method));
      return;
    }
    const sender = new StreamSender(
      this.deps.replies,
      {
        replyTo,
        correlationId: req.id,
        codec,
        window,
        deadline: req.deadline,
        abort: (reason) => req.abort(reason),
      },
      (err) => this.deps.logger.error({ err, service: this.service, method: req.method }, 'stream handler failed'),
    );
    await sender.run(iterable);
  }

  /** The error a caller may see; anything else is logged here and becomes INTERNAL. */
  private publicError(err: unknown, method: string): SwitchyardError {
    const e = toSwitchyardError(err);
    if (e !== err) this.deps.logger.error({ err, service: this.service, method }, 'handler failed');
    return e;
  }

  private replyError(replyTo: string, correlationId: string, deadline: number | undefined, err: SwitchyardError): void {
    this.send(
      replyTo,
      correlationId,
      deadline,
      Buffer.from(JSON.stringify(err.toJSON())),
      ERROR_PROPS_TYPE,
      STATUS.error,
    );
  }

  private send(
    replyTo: string,
    correlationId: string,
    deadline: number | undefined,
    body: Buffer,
    contentType: string,
    status: string,
  ): void {
    const props = { correlationId, contentType, headers: { [H.status]: status } };
    // Held (until the caller's deadline) while the publishing connection is reconnecting.
    if (!this.deps.replies.reply(replyTo, body, props, deadline ?? Date.now() + REPLY_HOLD_MS))
      this.deps.logger.warn(
        { service: this.service, correlationId },
        'reply dropped: too many replies held while the publishing connection is down',
      );
  }

  /** Stop taking requests, finish those in flight; the auto-delete queue goes with the last server. */
  close(): Promise<void> {
    this.closing ??= this.consumer
      .close(this.deps.drainTimeoutMs)
      .then(() => {
        // Bidi streams still open after the drain: their request went back to the queue with
        // the channel, so tell the callers (UNAVAILABLE, retryable: open again elsewhere).
        for (const session of [...this.bidiSessions])
          session.lost(new UnavailableError(`the ${this.service} server closed`), true);
      })
      .finally(() => this.onClosed(this));
    return this.closing;
  }
}
