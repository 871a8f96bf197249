import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqplib from 'amqplib';
import { freePort } from './ports.js';

export const RABBIT_MISSING =
  "rabbitmq-server is not installed: run `apt-get update && apt-get install -y rabbitmq-server` (the private node needs Debian's rabbitmq-server and rabbitmqctl, run as root).";

/** Where the broker's TLS listener finds its files, and how strict it is with clients. */
export interface PrivateRabbitTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** `ssl_options.fail_if_no_peer_cert`: refuse clients without a certificate. Default true. */
  requireClientCert?: boolean;
}

export interface PrivateRabbitOptions {
  /** Adds an AMQPS listener (`verify_peer`). */
  tls?: PrivateRabbitTls;
  /** How long to wait for the node to accept AMQP. Default 60 s. */
  startTimeoutMs?: number;
}

/**
 * The CLI tools' own distribution ports (RabbitMQ: server dist port + 10000 .. + 10010,
 * 35672-35682 for the default node). A listener there fails with eaddrinuse whenever a
 * rabbitmqctl happens to run at the same moment, so never pick one.
 */
const CLI_DIST_PORTS = { from: 35672, to: 35682 };

async function listenerPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if ((port < CLI_DIST_PORTS.from || port > CLI_DIST_PORTS.to) && !taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
}

/**
 * A RabbitMQ node of a test file's own, beside the machine's: own node name
 * `sytest-<random>@localhost`, own AMQP/AMQPS/distribution ports, own config, data and
 * logs under a temp dir (owned by the `rabbitmq` user, which the Debian wrapper drops to).
 * rabbitmqctl reaches it with the same Erlang cookie as the main node: both run as the
 * `rabbitmq` user with HOME=/var/lib/rabbitmq.
 *
 * Started in the foreground as a child process it accepted AMQP after 3-6 s on this
 * machine (Erlang 25, RabbitMQ 3.10.8), 2.5-7 s again after `stop()` or `kill()` (earlier
 * runs saw up to 14 s while other suites ran): start one per test file, in `beforeAll`,
 * and `close()` it in `afterAll`. `startedInMs` says how long the last start took.
 */
export class PrivateRabbit {
  readonly nodeName: string;
  /** How long the last start took until the node accepted AMQP, ms. */
  startedInMs = 0;
  private child: ChildProcess | undefined;
  private output = '';
  private readonly removeExitHook: () => void;

  private constructor(
    private readonly root: string,
    readonly amqpPort: number,
    readonly amqpsPort: number | undefined,
    readonly distPort: number,
    private readonly startTimeoutMs: number,
  ) {
    this.nodeName = `sytest-${randomBytes(4).toString('hex')}@localhost`;
    // A worker that dies without afterAll must not leave a broker running.
    const onExit = () => this.killNow();
    process.once('exit', onExit);
    this.removeExitHook = () => process.off('exit', onExit);
  }

  static async start(options: PrivateRabbitOptions = {}): Promise<PrivateRabbit> {
    if (spawnSync('which', ['rabbitmq-server', 'rabbitmqctl'], { stdio: 'ignore' }).status !== 0) {
      throw new Error(RABBIT_MISSING);
    }
    const taken = new Set<number>();
    const amqpPort = await listenerPort(taken);
    const amqpsPort = options.tls ? await listenerPort(taken) : undefined;
    const distPort = await listenerPort(taken);
    const root = mkdtempSync(join(tmpdir(), 'switchyard-rabbit-'));
    const node = new PrivateRabbit(root, amqpPort, amqpsPort, distPort, options.startTimeoutMs ?? 60_000);
    try {
      node.writeConfig(options.tls);
      await node.resume();
      return node;
    } catch (err) {
      await node.close();
      throw err;
    }
  }

  /** The temp dir holding the node's config, data and logs (removed by `close()`). */
  get dir(): string {
    return this.root;
  }

  get amqpUrl(): string {
    return `amqp://guest:guest@127.0.0.1:${this.amqpPort}`;
  }

  /** The AMQPS URL (guest is allowed: the connection comes from loopback). */
  get amqpsUrl(): string {
    if (this.amqpsPort === undefined) throw new Error('this node was started without tls');
    return `amqps://guest:guest@127.0.0.1:${this.amqpsPort}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  private writeConfig(tls: PrivateRabbitTls | undefined): void {
    const lines = [`listeners.tcp.default = 127.0.0.1:${this.amqpPort}`];
    if (tls) {
      // Copies the node owns: the caller's files may sit in a dir the rabbitmq user cannot enter.
      const own = join(this.root, 'tls');
      mkdirSync(own);
      const ca = join(own, 'ca.crt');
      const cert = join(own, 'server.crt');
      const key = join(own, 'server.key');
      copyFileSync(tls.caFile, ca);
      copyFileSync(tls.certFile, cert);
      copyFileSync(tls.keyFile, key);
      lines.push(
        `listeners.ssl.default = 127.0.0.1:${this.amqpsPort}`,
        `ssl_options.cacertfile = ${ca}`,
        `ssl_options.certfile = ${cert}`,
        `ssl_options.keyfile = ${key}`,
        'ssl_options.verify = verify_peer',
        `ssl_options.fail_if_no_peer_cert = ${tls.requireClientCert ?? true}`,
      );
    }
    mkdirSync(join(this.root, 'mnesia'));
    mkdirSync(join(this.root, 'log'));
    writeFileSync(join(this.root, 'rabbitmq.conf'), `${lines.join('\n')}\n`);
    // No plugins: the management plugin's listener (15672) would collide with the main node's.
    writeFileSync(join(this.root, 'enabled_plugins'), '[].\n');
    chmodSync(this.root, 0o755);
    // The server runs as `rabbitmq`: it must own its dirs, or it stops with cannot_log_to_file eacces.
    const chown = spawnSync('chown', ['-R', 'rabbitmq:rabbitmq', this.root], { encoding: 'utf8' });
    if (chown.status !== 0) throw new Error(`chown of ${this.root} to rabbitmq failed: ${chown.stderr}`);
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_CONFIG_FILE: join(this.root, 'rabbitmq.conf'),
      // A path that does not exist, so an /etc/rabbitmq/advanced.config of the main node is not read.
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.root, 'advanced.config'),
      RABBITMQ_MNESIA_BASE: join(this.root, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.root, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.root, 'enabled_plugins'),
      RABBITMQ_PID_FILE: join(this.root, 'mnesia', 'node.pid'),
      // Not in /var/lib/rabbitmq, the wrapper's working directory.
      ERL_CRASH_DUMP: join(this.root, 'log', 'erl_crash.dump'),
    };
  }

  /** Start (or restart after `stop()`/`kill()`, same ports and data) and wait until it accepts AMQP. */
  async resume(): Promise<void> {
    if (this.child) return;
    const began = Date.now();
    const child = spawn('rabbitmq-server', [], { env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-100_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.child = child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) =>
        reject(new Error(`rabbitmq-server ${this.nodeName} exited with ${code} while starting:\n${this.why()}`)),
      ),
    );
    exited.catch(() => {});
    await Promise.race([this.waitForAmqp(began + this.startTimeoutMs), exited]);
    this.startedInMs = Date.now() - began;
  }

  /** The lines of the boot output that say what went wrong (the rest is crash-report noise). */
  private why(): string {
    const lines = this.output.split('\n');
    const telling = lines.filter((l) => /invalid|eaddrinuse|BOOT FAILED|Error during startup|eacces/i.test(l));
    return (telling.length > 0 ? telling : lines.slice(-20)).slice(0, 20).join('\n');
  }

  private async waitForAmqp(until: number): Promise<void> {
    let last: unknown;
    while (Date.now() < until && this.child) {
      try {
        const conn = await amqplib.connect(this.amqpUrl, { timeout: 1000 });
        await conn.close();
        return;
      } catch (err) {
        last = err;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`RabbitMQ ${this.nodeName} did not accept AMQP on ${this.amqpPort}: ${(last as Error)?.message}`);
  }

  /** A clean stop (`rabbitmqctl -n <node> stop`), keeping the data for `resume()`. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const r = spawnSync('rabbitmqctl', ['-q', '-n', this.nodeName, 'stop'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) this.killNow();
    await exited;
  }

  /**
   * A crash: SIGKILL of this node's own beam.smp. RabbitMQ 3.10 names the node at run
   * time, not on the command line, so the process is found by RABBITMQ_NODENAME in its
   * environment (the pid file first, checked the same way), never by a broad pattern.
   * Resolves once the node is gone; `resume()` starts it again.
   */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.killNow();
    await exited;
  }

  private killNow(): void {
    const pid = this.beamPid();
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // Before beam.smp exists there is only the wrapper to stop.
    if (this.child && pid === undefined) this.child.kill('SIGKILL');
  }

  private beamPid(): number | undefined {
    const ours = (pid: number) => {
      try {
        const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        const exe = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
        return exe.endsWith('beam.smp') && environ.includes(`RABBITMQ_NODENAME=${this.nodeName}`);
      } catch {
        return false;
      }
    };
    try {
      const pid = Number(readFileSync(join(this.root, 'mnesia', 'node.pid'), 'utf8').trim());
      if (ours(pid)) return pid;
    } catch {
      // no pid file yet: the node is still booting
    }
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .find(ours);
  }

  /** Stop the node (or kill it when it will not stop) and remove its files. */
  async close(): Promise<void> {
    this.removeExitHook();
    await this.stop().catch(() => this.kill());
    this.killNow();
    rmSync(this.root, { recursive: true, force: true });
  }
}
