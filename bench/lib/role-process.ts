// Child processes of a bench suite that runs its roles in processes of its own: a role
// prints `READY <value>` (servers) or `RESULT <json>` (load generators) on stdout, and
// answers SIGUSR2 with its CPU time so far.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export function ready(port: number, extra?: string): void {
  // CPU time (user + system) so far, on request: the steadiest figure on a busy machine.
  process.on('SIGUSR2', () => {
    const u = process.cpuUsage();
    process.stdout.write(`CPU ${u.user + u.system}\n`);
  });
  process.stdout.write(`READY ${port}${extra === undefined ? '' : ` ${extra}`}\n`);
  process.once('SIGTERM', () => process.exit(0));
}

export interface Child {
  proc: ChildProcess;
  /** First value the child printed after `READY` or `RESULT`. */
  line: Promise<string>;
  /** The child's CPU time so far (µs); servers only. */
  cpuMicros(): Promise<number>;
}

/** Start `script` (run through tsx) as `role`: its ROLE variable `roleEnv` names the role. */
export function spawnRole(script: string, roleEnv: string, role: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script], {
    env: { ...process.env, ...env, [roleEnv]: role },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const cpuWaiters: Array<(us: number) => void> = [];
  const line = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${role}: no answer within 60 s`)), 60_000);
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      if (l.startsWith('CPU ')) {
        cpuWaiters.shift()?.(Number(l.slice(4)));
        return;
      }
      const m = /^(READY|RESULT) (.*)$/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve(m[2]!);
      } else console.log(`[${role}] ${l}`);
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${role} exited (code ${code}) before answering`));
    });
  });
  line.catch(() => {});
  const cpuMicros = () =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${role}: no CPU figure`)), 5_000);
      cpuWaiters.push((us) => {
        clearTimeout(timer);
        resolve(us);
      });
      proc.kill('SIGUSR2');
    });
  return { proc, line, cpuMicros };
}

export async function stop(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  const exited = new Promise((r) => c.proc.once('exit', r));
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(t);
}
