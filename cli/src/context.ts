import { CancelledError, type Transport } from '@switchyard/broker';
import { createInfrastructureAuth, credentialsFromEnv, parseAuthSettings } from '@switchyard/sdk';
import { pino } from 'pino';
import { openTransport } from './connect/amqp.js';
import { type EtcdClient, etcdFailure, openEtcd } from './connect/etcd.js';
import { type CliSettings, type GlobalOptions, resolveSettings } from './connect/settings.js';
import { UsageError } from './output/cli-errors.js';
import type { CliIo } from './output/io.js';
import { withProgress } from './output/progress.js';

/**
 * What one command run has: its I/O, its settings, and the connections it opened (closed
 * by `close()` whatever happens). Every wait on a server goes through `step()`, so each
 * one shows progress when slow and gives up when the user presses Ctrl-C.
 */
export class CommandContext {
  readonly io: CliIo;
  readonly settings: CliSettings;
  private readonly closers: Array<() => Promise<void> | void> = [];
  private etcdClient: EtcdClient | undefined;
  private amqp: Promise<Transport> | undefined;

  constructor(io: CliIo, globals: GlobalOptions) {
    this.io = io;
    this.settings = resolveSettings(globals, io.env);
  }

  get json(): boolean {
    return this.settings.json;
  }

  /** Write result text to stdout. */
  out(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** Write a JSON document to stdout (the `--json` output). */
  outJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A notice for people, on stderr (never mixed into results). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** Run `work` with progress after a second; reject with CANCELLED when the user stops the command. */
  step<T>(label: string, work: () => Promise<T>): Promise<T> {
    const signal = this.io.signal;
    if (signal.aborted) return Promise.reject(cancelled());
    return withProgress(this.io, label, () => {
      let onAbort: (() => void) | undefined;
      const stopped = new Promise<never>((_, reject) => {
        onAbort = () => reject(cancelled());
        signal.addEventListener('abort', onAbort, { once: true });
      });
      const running = work();
      // The abandoned work may still fail later: that must not become an unhandled rejection.
      running.catch(() => {});
      return Promise.race([running, stopped]).finally(() => signal.removeEventListener('abort', onAbort!));
    });
  }

  /** A step that talks to etcd with the context's client: etcd not answering becomes exit 3. */
  etcdStep<T>(label: string, work: (client: EtcdClient) => Promise<T>): Promise<T> {
    const client = this.etcd();
    return this.reachEtcd(label, () => work(client));
  }

  /** A step that talks to etcd through something else (a registry, a publisher). */
  async reachEtcd<T>(label: string, work: () => Promise<T>): Promise<T> {
    try {
      return await this.step(label, work);
    } catch (err) {
      throw etcdFailure(err, this.settings.etcdEndpoints);
    }
  }

  /** The etcd client (created on first use, closed with the context). */
  etcd(): EtcdClient {
    if (!this.etcdClient) {
      const client = openEtcd(this.settings);
      this.etcdClient = client;
      this.defer(() => client.close());
    }
    return this.etcdClient;
  }

  /**
   * A started AMQP transport (created on first use, closed with the context). With auth
   * on (SWITCHYARD_AUTH_URL), seen through the command's own account
   * (SWITCHYARD_CLIENT_ID/SECRET): its token goes on every call and event, and events
   * it receives are verified like a service's.
   */
  transport(): Promise<Transport> {
    this.amqp ??= this.step('connecting to RabbitMQ', () => openTransport(this.settings)).then(async (t) => {
      this.defer(() => t.close());
      const settings = parseAuthSettings(this.io.env, undefined);
      if (!settings) return t;
      const credentials = credentialsFromEnv(this.io.env);
      if (!credentials) {
        throw new UsageError(
          `auth is on (SWITCHYARD_AUTH_URL=${settings.issuer}): set SWITCHYARD_CLIENT_ID and SWITCHYARD_CLIENT_SECRET (or SWITCHYARD_AUTH=off)`,
        );
      }
      const { auth, owned } = createInfrastructureAuth(settings, {
        etcd: this.settings.etcdEndpoints.length > 0 ? () => openEtcd(this.settings) : undefined,
        namespace: this.settings.namespace,
        logger: pino({ level: 'silent' }),
      });
      for (const part of owned) {
        this.defer(() => part.close());
        await part.start?.();
      }
      const tokens = auth.tokenClient(credentials);
      this.defer(() => tokens.close());
      await this.step('getting a token from the auth service', () => tokens.start());
      return auth.secure(t, tokens);
    });
    return this.amqp;
  }

  /** Run `close` when the command ends (last registered, first run). */
  defer(close: () => Promise<void> | void): void {
    this.closers.push(close);
  }

  /** Close everything the command opened. Never throws. */
  async close(): Promise<void> {
    while (this.closers.length > 0) {
      const close = this.closers.pop()!;
      try {
        await close();
      } catch (err) {
        this.note(`warning: cleaning up failed: ${(err as Error).message}`);
      }
    }
  }
}

function cancelled() {
  return new CancelledError('stopped before it finished');
}
