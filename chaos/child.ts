/**
 * A chaos role (or the gateway) as a child process of the runner: run through tsx, its
 * stdout read line by line (protocol lines to `onLine`, anything else and all of stderr
 * to its log file), `READY` awaited, and every child killed when the runner exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every child still running: killed by `killAllNow()` (the runner's exit hook). */
const running = new Set<ChildProcess>();

export interface ChildOptions {
  /** Name in logs and errors, e.g. `catalog-1`. */
  name: string;
  /** Script path relative to the repository root. */
  script: string;
  env: Record<string, string>;
  /** Where its stderr and non-protocol stdout go. */
  logFile: string;
  /** Called with every stdout line that starts with one of `protocol`. */
  onLine?: (line: string) => void;
  protocol?: readonly string[];
  /** Wait for a `READY` line. Default true (the gateway does not print one). */
  awaitReady?: boolean;
  readyTimeoutMs?: number;
}

export class Child {
  readonly proc: ChildProcess;
  /** The rest of the READY line (e.g. the instance's URL). */
  readonly ready: Promise<string>;
  readonly exited: Promise<void>;

  constructor(readonly options: ChildOptions) {
    const log = createWriteStream(options.logFile, { flags: 'a' });
    const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', options.script], {
      cwd: ROOT,
      env: { ...inheritedEnv(), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    running.add(proc);
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        running.delete(proc);
        log.end(`-- exited: code ${code} signal ${signal}\n`);
        resolve();
      }),
    );
    proc.stderr!.pipe(log, { end: false });
    const protocol = options.protocol ?? [];
    let onReady: (rest: string) => void = () => {};
    this.ready = new Promise<string>((resolve, reject) => {
      if (options.awaitReady === false) return resolve('');
      const timeoutMs = options.readyTimeoutMs ?? 60_000;
      const timer = setTimeout(() => reject(new Error(`${options.name} not READY after ${timeoutMs} ms`)), timeoutMs);
      onReady = (rest) => {
        clearTimeout(timer);
        resolve(rest);
      };
      this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${options.name} exited before READY (log: ${options.logFile})`));
      });
    });
    this.ready.catch(() => {});
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line === 'READY' || line.startsWith('READY ')) onReady(line.slice(6));
      else if (options.onLine && protocol.some((p) => line.startsWith(p))) options.onLine(line);
      else log.write(`${line}\n`);
    });
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive) this.proc.kill(signal);
  }

  /** A crash: SIGKILL, resolved once the process is gone. */
  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exited;
  }

  /** A clean stop: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    this.signal('SIGTERM');
    await this.exited;
    clearTimeout(timer);
  }
}

/** The runner's environment without SWITCHYARD_* and OTEL_*: a child sees only what the stack sets. */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHYARD_') && !k.startsWith('OTEL_')),
  );
}

/** Synchronous, for `process.on('exit')`: nothing the runner started may outlive it. */
export function killAllNow(): void {
  for (const proc of running) {
    try {
      proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}
