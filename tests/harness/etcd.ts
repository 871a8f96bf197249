import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const ETCD_MISSING =
  'etcd is not installed: run `apt-get update && apt-get install -y etcd-server` (or put an etcd 3.4+ binary on PATH, or set SWITCHYARD_TEST_ETCD_BIN).';

export function etcdBinary(): string {
  return process.env.SWITCHYARD_TEST_ETCD_BIN ?? 'etcd';
}

export function etcdInstalled(): boolean {
  const r = spawnSync(etcdBinary(), ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/** An https:// client listener: etcd's certificate and, with `clientCertAuth`, client certificates from `caFile`. */
export interface PrivateEtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** `--client-cert-auth`: refuse clients without a certificate signed by `caFile`. Default true. */
  clientCertAuth?: boolean;
  /** Client certificate and key the harness itself uses for its health check. */
  clientCertFile?: string;
  clientKeyFile?: string;
}

/**
 * A private etcd for tests: its own free ports and temp data dir, which may be stopped
 * and restarted (same ports, same data) to prove recovery. `close()` removes the data.
 * With `tls` its client URL is https:// (peers stay plain: a one-member cluster has none).
 */
export class PrivateEtcd {
  readonly endpoint: string;
  private child: ChildProcess | undefined;
  private constructor(
    clientPort: number,
    private readonly peerPort: number,
    private readonly dataDir: string,
    private readonly tls: PrivateEtcdTls | undefined,
  ) {
    this.endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  }

  static async start(options: { tls?: PrivateEtcdTls } = {}): Promise<PrivateEtcd> {
    if (!etcdInstalled()) throw new Error(ETCD_MISSING);
    const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-etcd-'));
    const etcd = new PrivateEtcd(await freePort(), await freePort(), dataDir, options.tls);
    try {
      await etcd.resume();
    } catch (err) {
      await etcd.close();
      throw err;
    }
    return etcd;
  }

  private tlsFlags(): string[] {
    const t = this.tls;
    if (!t) return [];
    const flags = ['--cert-file', t.certFile, '--key-file', t.keyFile, '--trusted-ca-file', t.caFile];
    if (t.clientCertAuth ?? true) flags.push('--client-cert-auth');
    return flags;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Start (or restart after `stop()`) the server and wait until it answers. */
  async resume(): Promise<void> {
    if (this.child) return;
    const client = this.endpoint;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn(
      etcdBinary(),
      [
        '--name',
        'test',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        '--listen-peer-urls',
        peer,
        '--initial-advertise-peer-urls',
        peer,
        '--initial-cluster',
        `test=${peer}`,
        '--log-level',
        'error',
        '--logger',
        'zap',
        ...this.tlsFlags(),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.env.ETCD_UNSUPPORTED_ARCH ?? '' },
      },
    );
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    this.child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code) => reject(new Error(`etcd exited with ${code} while starting: ${stderr}`))),
    );
    await Promise.race([this.waitHealthy(15_000), exited]);
    child.removeAllListeners('exit');
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      try {
        if (await this.healthy()) return;
      } catch {
        // not up yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`etcd did not become healthy on ${this.endpoint} within ${timeoutMs} ms`);
  }

  private async healthy(): Promise<boolean> {
    const t = this.tls;
    if (!t) {
      const res = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(500) });
      return res.ok;
    }
    // fetch cannot present a client certificate; node's https can.
    return new Promise<boolean>((resolve, reject) => {
      const req = httpsGet(
        `${this.endpoint}/health`,
        {
          ca: readFileSync(t.caFile),
          ...(t.clientCertFile ? { cert: readFileSync(t.clientCertFile) } : {}),
          ...(t.clientKeyFile ? { key: readFileSync(t.clientKeyFile) } : {}),
          timeout: 500,
        },
        (res) => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
    });
  }

  /** Stop the server (SIGTERM, then SIGKILL), keeping its data for `resume()`. */
  async stop(): Promise<void> {
    await this.end('SIGTERM');
  }

  /** A crash: SIGKILL at once, keeping its data for `resume()`. */
  async kill(): Promise<void> {
    await this.end('SIGKILL');
  }

  private async end(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill(signal);
    });
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
