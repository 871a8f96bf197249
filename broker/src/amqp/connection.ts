/**
 * One RabbitMQ connection that survives drops, built on amqplib's own recovery.
 *
 * A transport holds two: one it publishes on, one it consumes on (a connection that
 * RabbitMQ blocks for publishing too fast would otherwise stop deliveries as well).
 * Recovery replaces only the connection: channels, consumers and declarations die with
 * it. So every part that owns a channel registers as a `ChannelOwner`; `setup` (run by
 * amqplib on each new connection, before anyone else can use it) re-attaches them all.
 */
import { EventEmitter } from 'node:events';
import type { ConnectionOptions } from 'node:tls';
import amqplib, { type ChannelModel, type RecoveringChannelModel } from 'amqplib';
import { UnavailableError } from '../errors.js';
import type { TransportLogger } from './options.js';
import type { AmqpTlsOptions } from './tls-options.js';
import { describeTlsRefusal, isTlsRefusal } from './tls-refusal.js';

export interface ChannelOwner {
  /** Open this part's channel(s) on a fresh connection: declare, qos, consume. */
  attach(model: ChannelModel): Promise<void>;
}

export type ConnectionRole = 'publish' | 'consume';

export interface RecoveringConnectionOptions {
  url: string;
  role: ConnectionRole;
  connectionName: string;
  heartbeat: number | undefined;
  connectTimeoutMs: number;
  /** Socket options for `amqps://` (ignored by amqplib for `amqp://`, which the options refuse anyway). */
  tls: Readonly<AmqpTlsOptions> | undefined;
  logger: TransportLogger;
  /** Reports failures that did not fail a caller (a part that could not re-attach, ...). */
  onError: (err: Error) => void;
}

/**
 * Reconnect backoff: fast first tries (a restarted broker is usually back within seconds),
 * capped at 2 s (2.4 s with jitter) so every client is back within a few seconds of the
 * broker however long it was gone (the goal `npm run chaos` checks: < 5 s). With a 5 s cap
 * a client noticed the broker's return up to 6 s late (measured: events 4.7 s after it).
 */
const RECOVERY = { initialDelay: 100, maxDelay: 2_000, factor: 2, jitter: 0.2 } as const;

/**
 * Events: `up` (a connection is ready, owners attached), `down` (it dropped; recovery
 * is under way).
 */
export class RecoveringConnection extends EventEmitter {
  private recovering: RecoveringChannelModel | undefined;
  private current: ChannelModel | undefined;
  private readonly owners = new Set<ChannelOwner>();
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly opts: RecoveringConnectionOptions) {
    super();
  }

  get role(): ConnectionRole {
    return this.opts.role;
  }

  /** The live connection, or undefined while disconnected. */
  get model(): ChannelModel | undefined {
    return this.current;
  }

  get connected(): boolean {
    return this.current !== undefined;
  }

  /** Connect; resolves once the first connection is set up. Idempotent. */
  start(): Promise<void> {
    this.starting ??= this.connect();
    return this.starting;
  }

  private async connect(): Promise<void> {
    const { opts } = this;
    const url = new URL(opts.url);
    if (opts.heartbeat !== undefined) url.searchParams.set('heartbeat', String(opts.heartbeat));
    const recovering = await amqplib.connect(url.toString(), {
      // node's tls.connect reads these; it neither keeps nor changes the (frozen) CA list.
      ...(opts.tls as ConnectionOptions | undefined),
      noDelay: true,
      timeout: opts.connectTimeoutMs,
      clientProperties: { connection_name: `${opts.connectionName}/${opts.role}` },
      recovery: { ...RECOVERY, waitForConnect: false, setup: this.setup },
    });
    this.recovering = recovering;
    // Without a listener an 'error' event would throw; the 'disconnect' that follows is what matters.
    recovering.on('error', (err: Error) => opts.logger.debug({ err, role: opts.role }, 'amqp connection error'));
    recovering.on('disconnect', this.onDisconnect);
    recovering.on('reconnect-scheduled', (info: { attempt: number; delay: number; error: Error }) =>
      opts.logger.debug(
        { role: opts.role, attempt: info.attempt, delay: info.delay, err: info.error },
        'amqp reconnect scheduled',
      ),
    );
    recovering.on('reconnect-failed', (err: Error) => opts.onError(err));
    let lastFailure: Error | undefined;
    let refused!: (err: Error) => void;
    const tlsRefused = new Promise<never>((_, reject) => {
      refused = reject;
    });
    tlsRefused.catch(() => {});
    recovering.on('connect-failed', (err: Error) => {
      lastFailure = err;
      if (!this.current && isTlsRefusal(err)) refused(err);
    });
    recovering.on('blocked', (reason: string) =>
      opts.logger.warn({ role: opts.role, reason }, 'RabbitMQ blocked the connection'),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new UnavailableError(
              `RabbitMQ did not accept a connection within ${opts.connectTimeoutMs} ms${lastFailure ? ` (last error: ${lastFailure.message})` : ''}`,
              { details: { role: opts.role } },
            ),
          ),
        opts.connectTimeoutMs,
      );
    });
    try {
      await Promise.race([recovering.waitForConnect(), timeout, tlsRefused]);
    } catch (err) {
      await recovering.close().catch(() => {});
      this.recovering = undefined;
      if (err instanceof UnavailableError) throw err;
      if (isTlsRefusal(err)) {
        const code = (err as NodeJS.ErrnoException).code;
        // Not retryable: nothing changes until someone replaces a certificate.
        throw new UnavailableError(describeTlsRefusal('RabbitMQ', err as Error), {
          cause: err,
          details: { role: opts.role, tls: code },
          retryable: false,
        });
      }
      throw new UnavailableError(`cannot connect to RabbitMQ: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs on every new connection before amqplib hands it out. An owner that fails to
   * attach is reported and left for its own retry; only a connection lost during setup
   * fails setup, so amqplib reconnects instead of binding a dead connection.
   */
  private readonly setup = async (model: ChannelModel): Promise<void> => {
    let lost: Error | undefined;
    const onClose = (err?: Error) => {
      lost = err ?? new Error('connection closed during setup');
    };
    model.once('close', onClose);
    model.on('error', () => {}); // the 'close' carries the same error
    this.current = model;
    try {
      for (const owner of [...this.owners]) {
        if (lost) break;
        try {
          await owner.attach(model);
        } catch (err) {
          if (!lost) this.opts.onError(err as Error);
        }
      }
    } finally {
      model.off('close', onClose);
    }
    if (lost || this.closed) {
      if (this.current === model) this.current = undefined;
      throw lost ?? new Error('closed during setup');
    }
    this.opts.logger.debug({ role: this.opts.role }, 'amqp connection ready');
    this.emit('up');
  };

  private readonly onDisconnect = (err: Error): void => {
    this.current = undefined;
    if (this.closed) return;
    this.opts.logger.warn({ err, role: this.opts.role }, 'RabbitMQ connection lost; reconnecting');
    this.emit('down', err);
  };

  /**
   * Register a part; attaches it now when connected (errors reach the caller) and on
   * every later connection.
   */
  async add(owner: ChannelOwner): Promise<void> {
    this.owners.add(owner);
    const model = this.current;
    if (model) {
      try {
        await owner.attach(model);
      } catch (err) {
        this.owners.delete(owner);
        throw err;
      }
    }
  }

  remove(owner: ChannelOwner): void {
    this.owners.delete(owner);
  }

  /** Whether `model` is still the live connection (a channel of an older one must not be used). */
  isCurrent(model: ChannelModel): boolean {
    return this.current === model;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.owners.clear();
    await this.starting?.catch(() => {});
    const recovering = this.recovering;
    this.recovering = undefined;
    this.current = undefined;
    await recovering?.close().catch(() => {});
  }
}
