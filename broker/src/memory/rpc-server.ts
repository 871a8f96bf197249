/**
 * One server instance of a service: a competing consumer of the service's request queue.
 * It answers every request it takes (reply, then ack), checks the deadline before work,
 * aborts the handler's signal at the deadline, and maps every failure to a typed error
 * reply: unknown method UNIMPLEMENTED, bad request INVALID_ARGUMENT, bad response or a
 * plain Error INTERNAL (with a generic message: internals never reach the caller).
 */

import { bidiRefusal } from '../bidi/bidi-definition.js';
import { BidiSession } from '../bidi/bidi-session.js';
import { DEFAULT_BIDI_WINDOW, DEFAULT_HEARTBEAT_MS } from '../bidi/frames.js';
import type { CodecRegistry } from '../codec.js';
import {
  CancelledError,
  DeadlineExceededError,
  errorFromJSON,
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  isSwitchyardError,
  type SwitchyardError,
  UnavailableError,
  UnimplementedError,
} from '../errors.js';
import type { IncomingRequest, MethodDefinition, Server } from '../transport.js';
import { settledWithin } from './drain.js';
import type { BidiPeer, ControlPort, RpcReply, RpcRequest } from './messages.js';
import { errorReply } from './replies.js';
import type { RpcQueue } from './rpc-queue.js';
import { STOPPED, StreamFlow } from './stream-flow.js';
import type { Delivery, QueueConsumer } from './work-queue.js';

export interface RpcServerSettings {
  readonly methods: Readonly<Record<string, MethodDefinition>>;
  readonly prefetch: number;
  readonly codecs: CodecRegistry;
  readonly drainTimeoutMs: number;
  /** Failures that reach no caller as such (a handler's plain Error, an invalid response). */
  readonly onError: (err: SwitchyardError) => void;
}

interface InFlight {
  readonly controller: AbortController;
  readonly done: Promise<void>;
  readonly streaming: boolean;
}

export class RpcServer implements Server, QueueConsumer<RpcRequest> {
  readonly service: string;
  readonly prefetch: number;
  private readonly inFlight = new Map<Delivery<RpcRequest>, InFlight>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly queue: RpcQueue,
    private readonly settings: RpcServerSettings,
    private readonly onClosed: (server: RpcServer) => void,
  ) {
    this.service = queue.service;
    this.prefetch = settings.prefetch;
  }

  start(): void {
    this.queue.addConsumer(this);
  }

  deliver(delivery: Delivery<RpcRequest>): void {
    const controller = new AbortController();
    const done = this.handle(delivery, controller)
      .catch((err: unknown) => this.settings.onError(new InternalError('rpc server failure', { cause: err })))
      .finally(() => {
        this.inFlight.delete(delivery);
        // Ack only after the reply went out, so a server that dies mid-call lets another take it.
        delivery.ack();
      });
    this.inFlight.set(delivery, { controller, done, streaming: delivery.message.window !== undefined });
  }

  /** Stop taking requests, finish those in flight (at most drainTimeoutMs), then leave the queue. */
  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    // Leaving the queue first: waiting requests go to the other servers, or fail UNAVAILABLE if none remain.
    this.queue.removeConsumer(this);
    const calls = Promise.allSettled([...this.inFlight.values()].map((c) => c.done));
    if (!(await settledWithin(calls, this.settings.drainTimeoutMs))) {
      for (const [delivery, call] of this.inFlight) {
        if (!delivery.settled) {
          const request = delivery.message;
          if (!call.streaming && !this.queue.isDeleted) {
            delivery.requeue({ ...request, redelivered: true });
          } else {
            request.replyTo.deliver(errorReply(new UnavailableError(`the "${this.service}" server closed mid-call`)));
            delivery.ack();
          }
        }
        call.controller.abort(new UnavailableError('the server closed'));
      }
    }
    this.onClosed(this);
  }

  private async handle(delivery: Delivery<RpcRequest>, controller: AbortController): Promise<void> {
    const request = delivery.message;
    // The caller has given up: answering would be wasted work. Asking the caller, not only
    // the clock, closes the gap where its deadline timer fired a millisecond before Date.now()
    // reached the deadline.
    if (!request.replyTo.waiting() || (request.deadline !== undefined && request.deadline <= Date.now())) return;
    let deadlineTimer: NodeJS.Timeout | undefined;
    if (request.deadline !== undefined) {
      deadlineTimer = setTimeout(
        () => controller.abort(new DeadlineExceededError('the call deadline passed')),
        Math.min(request.deadline - Date.now(), 2_147_483_647),
      );
      deadlineTimer.unref();
    }
    // After a hard close requeued the request, another server answers it, not this one.
    const reply = (r: RpcReply): boolean => !delivery.settled && request.replyTo.deliver(r);
    try {
      await this.answer(request, controller, reply);
    } finally {
      clearTimeout(deadlineTimer);
    }
  }

  private async answer(
    request: RpcRequest,
    controller: AbortController,
    reply: (r: RpcReply) => boolean,
  ): Promise<void> {
    const fail = (err: SwitchyardError) => void reply(errorReply(err));
    const def = Object.hasOwn(this.settings.methods, request.method)
      ? this.settings.methods[request.method]
      : undefined;
    if (!def) return fail(new UnimplementedError(`"${this.service}" has no method "${request.method}"`));
    if (def.bidi !== undefined || request.bidi !== undefined) {
      const refusal = bidiRefusal(this.service, request.method, def, request.bidi?.kind, request.bidi?.version);
      if (refusal) return fail(refusal);
      return this.answerBidi(request, def, controller, reply);
    }
    const streamingCall = request.window !== undefined;
    if (Boolean(def.streaming) !== streamingCall) {
      return fail(
        new FailedPreconditionError(
          def.streaming
            ? `${this.service}.${request.method} is server-streaming: call it with stream()`
            : `${this.service}.${request.method} is unary: call it with call()`,
        ),
      );
    }
    let payload: unknown;
    try {
      payload = this.settings.codecs.decode(request.body, request.contentType);
    } catch (err) {
      return fail(this.asInvalid(err));
    }
    if (def.validateRequest) {
      try {
        def.validateRequest(payload);
      } catch (err) {
        return fail(this.asInvalid(err));
      }
    }
    const incoming: IncomingRequest = {
      id: request.id,
      service: request.service,
      method: request.method,
      payload,
      headers: { ...request.headers },
      contentType: request.contentType,
      deadline: request.deadline,
      signal: controller.signal,
      redelivered: request.redelivered,
    };
    if (streamingCall) return this.answerStream(request, def, incoming, controller, reply);

    let result: unknown;
    try {
      result = await def.handler(incoming);
    } catch (err) {
      return fail(this.fromHandler(err, request));
    }
    // Same rule as on RabbitMQ: a result ready only after the deadline is not a success.
    // The deadline timer can fire a millisecond before Date.now() reaches the deadline, so
    // a handler that resolved on that abort also missed it (a test saw `{}` come back).
    const missed =
      request.deadline !== undefined &&
      (Date.now() >= request.deadline || controller.signal.reason instanceof DeadlineExceededError);
    if (missed) {
      return fail(new DeadlineExceededError(`${this.service}.${request.method} missed its deadline`));
    }
    const body = this.checkAndEncode(def, result, request);
    if (isSwitchyardError(body)) return fail(body);
    reply({ status: 'ok', body, contentType: this.codecOf(request).contentType });
  }

  private async answerStream(
    request: RpcRequest,
    def: MethodDefinition,
    incoming: IncomingRequest,
    controller: AbortController,
    reply: (r: RpcReply) => boolean,
  ): Promise<void> {
    const fail = (err: SwitchyardError) => void reply(errorReply(err));
    let result: unknown;
    try {
      result = await def.handler(incoming);
    } catch (err) {
      return fail(this.fromHandler(err, request));
    }
    const iterator = asyncIteratorOf(result);
    if (!iterator) {
      const err = new InternalError(`${this.service}.${request.method} is streaming but returned no async iterable`);
      this.settings.onError(err);
      return fail(new InternalError('internal error'));
    }
    const flow = new StreamFlow(request.window ?? 1, controller.signal);
    const control: ControlPort = {
      credit: (n) => flow.grant(n),
      cancel: () => controller.abort(new CancelledError('the caller cancelled the stream')),
    };
    const contentType = this.codecOf(request).contentType;
    let finished = false;
    try {
      for (let seq = 0; ; seq++) {
        if (!(await flow.waitForCredit())) break;
        const step = await flow.race(iterator.next());
        if (step === STOPPED) break;
        if (step.done) {
          finished = true;
          reply({ status: 'end' });
          break;
        }
        const body = this.checkAndEncode(def, step.value, request);
        if (isSwitchyardError(body)) {
          fail(body);
          break;
        }
        if (!reply({ status: 'item', seq, body, contentType, control })) {
          // The caller is gone (AMQP: the item came back as basic.return): cancel.
          controller.abort(new CancelledError('the caller is gone'));
          break;
        }
        flow.spend();
      }
    } catch (err) {
      finished = true; // the iterator threw: it is already closed
      fail(this.fromHandler(err, request));
    }
    if (!finished) {
      try {
        await iterator.return?.();
      } catch (err) {
        this.settings.onError(
          new InternalError(`closing the stream of ${this.service}.${request.method} failed`, { cause: err }),
        );
      }
    }
  }

  private async answerBidi(
    request: RpcRequest,
    def: MethodDefinition,
    controller: AbortController,
    reply: (r: RpcReply) => boolean,
  ): Promise<void> {
    const session: BidiSession = new BidiSession({
      kind: def.bidi ?? 'bidi',
      label: `${this.service}.${request.method}`,
      inputWindow: def.inputWindow ?? DEFAULT_BIDI_WINDOW,
      outputWindow: request.window ?? DEFAULT_BIDI_WINDOW,
      heartbeatMs: request.bidi?.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      deadline: request.deadline,
      codec: this.codecOf(request),
      codecs: this.settings.codecs,
      validateInput: def.validateRequest,
      validateOutput: def.validateResponse,
      // Errors cross as on the wire: their JSON body, never the live object (no cause, no stack).
      send: (frame) =>
        reply({
          status: 'frame',
          frame: frame.t === 'error' ? { t: 'error', error: errorFromJSON(frame.error.toJSON()) } : frame,
          peer,
        }),
      onError: (err) =>
        this.settings.onError(
          isSwitchyardError(err) ? err : new InternalError(`${this.service}.${request.method} failed`, { cause: err }),
        ),
    });
    const peer: BidiPeer = { deliver: (frame) => session.onFrame(frame) };
    const onAbort = () =>
      session.lost(
        isSwitchyardError(controller.signal.reason)
          ? controller.signal.reason
          : new UnavailableError('the server closed'),
      );
    controller.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await session.run((input) =>
        def.handler({
          id: request.id,
          service: request.service,
          method: request.method,
          payload: undefined,
          headers: { ...request.headers },
          contentType: request.contentType,
          deadline: request.deadline,
          signal: session.signal,
          redelivered: request.redelivered,
          input,
        }),
      );
    } finally {
      controller.signal.removeEventListener('abort', onAbort);
    }
  }

  /** The encoded reply body, or the INTERNAL error to send instead. */
  private checkAndEncode(def: MethodDefinition, value: unknown, request: RpcRequest): Buffer | SwitchyardError {
    if (def.validateResponse) {
      try {
        def.validateResponse(value);
      } catch (err) {
        this.settings.onError(
          new InternalError(`${this.service}.${request.method} produced an invalid response`, { cause: err }),
        );
        return new InternalError(`${this.service}.${request.method} produced an invalid response`);
      }
    }
    try {
      return this.codecOf(request).encode(value);
    } catch (err) {
      this.settings.onError(
        new InternalError(`${this.service}.${request.method}: the response cannot be encoded`, { cause: err }),
      );
      return new InternalError(`${this.service}.${request.method}: the response cannot be encoded`);
    }
  }

  /** Replies use the request's codec; the request decoded, so it exists. */
  private codecOf(request: RpcRequest) {
    const type =
      (request.contentType.split(';')[0] ?? '').trim().toLowerCase() || this.settings.codecs.default.contentType;
    return this.settings.codecs.get(type);
  }

  private asInvalid(err: unknown): SwitchyardError {
    if (isSwitchyardError(err)) return err;
    return new InvalidArgumentError(`request is invalid: ${err instanceof Error ? err.message : String(err)}`);
  }

  private fromHandler(err: unknown, request: RpcRequest): SwitchyardError {
    if (isSwitchyardError(err)) return err;
    // The caller gets a generic INTERNAL; operators get the real error.
    this.settings.onError(
      new InternalError(
        `${this.service}.${request.method} failed: ${err instanceof Error ? err.message : String(err)}`,
        {
          cause: err,
        },
      ),
    );
    return new InternalError('internal error');
  }
}

function asyncIteratorOf(value: unknown): AsyncIterator<unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const asyncIt = (value as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator];
  if (typeof asyncIt === 'function') return asyncIt.call(value);
  const syncIt = (value as Partial<Iterable<unknown>>)[Symbol.iterator];
  if (typeof syncIt !== 'function') return undefined;
  const it: Iterator<unknown> = syncIt.call(value);
  return {
    next: async () => it.next(),
    return: async () => it.return?.() ?? { done: true, value: undefined },
  };
}
