/**
 * A newcomer's first ten minutes, as the README tells them: clone the repository, run the
 * commands of its "Install and start" block, wait for the demo to print its address, run
 * the curl commands it prints, stop it. The clone is of HEAD: this proves what is
 * committed, not the working tree. The commands are read from the README, so the test
 * fails when the README drifts from what works.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { eventually } from '../fixtures/gateway-harness.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const INSTALL_TIMEOUT_MS = 240_000;
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;

// --- reading the README and the demo's banner -------------------------------------------

/** The shell blocks (```sh) of the section under `## <heading>`, each as its lines. */
function shellBlocks(markdown: string, heading: string): string[][] {
  const start = markdown.search(new RegExp(`^## ${heading}\\s*$`, 'm'));
  if (start < 0) throw new Error(`README has no "## ${heading}" section`);
  const rest = markdown.slice(start + 3);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) =>
    m[1]!
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#')),
  );
}

interface ShellLine {
  /** The pipeline's commands, each as its words. */
  commands: string[][];
  /** What follows an unquoted `#`. */
  comment: string;
}

/** Split one line as sh would (quotes, $VAR, `|`, `#`); an unknown variable is an error. */
function parseShell(line: string, vars: Record<string, string>): ShellLine {
  const commands: string[][] = [[]];
  let word = '';
  let inWord = false;
  const expand = (text: string) =>
    text.replace(/\$\{?(\w+)\}?/g, (_, name: string) => {
      if (!(name in vars)) throw new Error(`unknown variable $${name} in: ${line}`);
      return vars[name]!;
    });
  const endWord = () => {
    if (inWord) commands.at(-1)!.push(word);
    word = '';
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const close = line.indexOf(c, i + 1);
      if (close < 0) throw new Error(`unclosed ${c} in: ${line}`);
      const quoted = line.slice(i + 1, close);
      word += c === '"' ? expand(quoted) : quoted;
      inWord = true;
      i = close;
    } else if (/\s/.test(c)) {
      endWord();
    } else if (c === '#' && !inWord) {
      endWord();
      return { commands, comment: line.slice(i + 1).trim() };
    } else if (c === '|') {
      endWord();
      commands.push([]);
    } else if (c === '$') {
      const m = /^\$\{?(\w+)\}?/.exec(line.slice(i))!;
      word += expand(m[0]);
      inWord = true;
      i += m[0].length - 1;
    } else {
      word += c;
      inWord = true;
    }
  }
  endWord();
  return { commands, comment: '' };
}

/** The fields of the demo's request bodies this test computes expectations from. */
interface SentBody {
  items?: { quantity: number; unitPrice: { amount: number } }[];
  orderId?: string;
  amount?: unknown;
}

interface CurlRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** The request a curl command line sends; an option this does not know is an error. */
function curlRequest(words: string[]): CurlRequest {
  if (words[0] !== 'curl') throw new Error(`not a curl command: ${words.join(' ')}`);
  const req: CurlRequest = { method: '', url: '', headers: {}, body: undefined };
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-i' || w === '-s' || w === '-S' || w === '-sS' || w === '--include' || w === '--silent') continue;
    if (w === '-X' || w === '--request') req.method = words[++i]!;
    else if (w === '-H' || w === '--header') {
      const h = words[++i]!;
      const colon = h.indexOf(':');
      req.headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
    } else if (w === '-d' || w === '--data' || w === '--data-raw') req.body = words[++i]!;
    else if (w.startsWith('-')) throw new Error(`curl option ${w} is not understood by this test`);
    else req.url = w;
  }
  req.method ||= req.body === undefined ? 'GET' : 'POST';
  return req;
}

// --- processes ----------------------------------------------------------------------------

/**
 * The newcomer's environment: this one without Switchyard's settings (so the demo runs
 * embedded) and without what npm and vitest add for the test run itself.
 */
function newcomerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(SWITCHYARD_|npm_|VITEST|INIT_CWD$|NODE_ENV$|NODE_OPTIONS$|TEST$)/i.test(k)) env[k] = v;
  }
  // A quiet, cache-first npm: the registry is the only network it may need.
  Object.assign(env, {
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_prefer_offline: 'true',
    npm_config_update_notifier: 'false',
  });
  return env;
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout: number },
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { ...opts, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      resolve({ code: Number.isNaN(code) ? 1 : code, output: `${stdout}${stderr}` });
    });
  });
}

function waitFor(child: ChildProcess, output: () => string, done: (text: string) => boolean, ms: number) {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`not within ${ms} ms; output so far:\n${output()}`)), ms);
    const check = () => {
      if (done(output())) finish();
    };
    const exited = (code: number | null) => finish(new Error(`exited (${code}) first; output:\n${output()}`));
    function finish(err?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', exited);
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.on('data', check);
    child.once('exit', exited);
    check();
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// --- the test ------------------------------------------------------------------------------

describe('a newcomer following the README', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-newcomer-'));
  const clone = join(dir, 'switchyard');
  const env = { ...newcomerEnv(), SWITCHYARD_GATEWAY_PORT: '0', SWITCHYARD_ADMIN_PORT: '0', SWITCHYARD_AUTH_PORT: '0' };
  let readme = '';
  let startCommand: string[] = [];
  let demo: ChildProcess | undefined;
  let demoPid: number | undefined;
  let out = '';

  beforeAll(async () => {
    const t0 = Date.now();
    const cloned = await run('git', ['clone', '--quiet', repo, clone], { cwd: dir, timeout: 60_000 });
    expect(cloned.code, cloned.output).toBe(0);
    readme = readFileSync(join(clone, 'README.md'), 'utf8');
    console.log(`newcomer: git clone ${Date.now() - t0} ms`);
  }, 90_000);

  afterAll(async () => {
    // Only what this test started, by pid.
    for (const pid of [demoPid, demo?.pid]) {
      if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'installs with the README commands, leaving the clone as committed',
    async () => {
      const [block] = shellBlocks(readme, 'Install and start');
      expect(block, 'a ```sh block under "## Install and start"').toBeDefined();
      const commands = block!.flatMap((l) => l.split('&&').map((c) => c.trim()));
      expect(commands.length).toBeGreaterThanOrEqual(2);
      // Every command but the last runs to completion; the last one (npm start) keeps running.
      startCommand = parseShell(commands.at(-1)!, {}).commands[0]!;
      expect(startCommand).toEqual(['npm', 'start']);
      for (const command of commands.slice(0, -1)) {
        const t0 = Date.now();
        const r = await run('sh', ['-c', command], { cwd: clone, env, timeout: INSTALL_TIMEOUT_MS });
        expect(r.code, `${command}\n${r.output}`).toBe(0);
        console.log(`newcomer: ${command} ${Date.now() - t0} ms`);
      }
      // The lockfile matches the manifests: installing changed nothing that is committed.
      const status = await run('git', ['status', '--porcelain'], { cwd: clone, timeout: 10_000 });
      expect(status.output.trim(), 'npm install changed committed files').toBe('');
    },
    INSTALL_TIMEOUT_MS + 30_000,
  );

  it(
    'starts the demo, which prints the gateway address, a token and curl commands',
    async () => {
      expect(startCommand, 'the install step must have run').toEqual(['npm', 'start']);
      const t0 = Date.now();
      demo = spawn(startCommand[0]!, startCommand.slice(1), { cwd: clone, env, stdio: ['ignore', 'pipe', 'pipe'] });
      demo.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      demo.stderr!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      // The banner ends with the line the README quotes: "Ctrl-C stops everything gracefully."
      await waitFor(
        demo,
        () => out,
        (text) => /TOKEN=\S+[\s\S]*Ctrl-C/.test(text),
        START_TIMEOUT_MS,
      );
      console.log(`newcomer: npm start to the printed banner ${Date.now() - t0} ms`);
      expect(out).toMatch(/embedded mode/);
      expect(out).toMatch(/gateway\s+http:\/\/\S+/);
      // The program's own pid, from its log lines (npm runs it through a shell).
      demoPid = Number(/"pid":(\d+)/.exec(out)?.[1]);
      expect(demoPid).toBeGreaterThan(0);
      expect(demoPid).not.toBe(demo.pid);
    },
    START_TIMEOUT_MS + 10_000,
  );

  it('gets what each printed curl command promises', async () => {
    expect(demoPid, 'the demo must be running').toBeDefined();
    // The token printed at start; replaced by the one the printed token-endpoint curl returns,
    // so the requests after it prove that a token from the endpoint works at the gateway.
    let token = /TOKEN=(\S+)/.exec(out)![1]!;
    let fromEndpoint = false;
    const lines = out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('curl '));
    expect(lines.length).toBeGreaterThanOrEqual(3);

    // The README's example is one of them, with the printed address.
    const readmeCurl = shellBlocks(readme, 'Install and start')
      .flat()
      .find((l) => l.startsWith('curl '));
    expect(readmeCurl, 'README shows the first curl to run').toBeDefined();
    const readmePath = new URL(curlRequest(parseShell(readmeCurl!, {}).commands[0]!).url).pathname;
    expect(lines.map((l) => new URL(curlRequest(parseShell(l, { TOKEN: token }).commands[0]!).url).pathname)).toContain(
      readmePath,
    );

    const placed: string[] = [];
    let checked200 = 0;
    for (const line of lines) {
      const { commands, comment } = parseShell(line, { TOKEN: token });
      const req = curlRequest(commands[0]!);
      const started = performance.now();
      const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
      const text = await res.text();
      const ms = performance.now() - started;
      const what = `${line}\n-> ${res.status} ${text}`;
      const grep = commands[1];
      if (grep) {
        // `curl ... | grep NAME`: the output has it.
        expect(grep[0]).toBe('grep');
        expect(text, what).toContain(grep.at(-1));
        continue;
      }
      const body = JSON.parse(text) as Record<string, unknown>;
      const promised = /^(\d{3})\b/.exec(comment)?.[1];
      const route = `${req.method} ${new URL(req.url).pathname}`;
      const form = req.body !== undefined && !req.body.trimStart().startsWith('{');
      const sent = (req.body === undefined || form ? undefined : JSON.parse(req.body)) as SentBody | undefined;
      if (route === 'POST /oauth/token') {
        // The demo's token endpoint (client credentials, form body), printed before the requests.
        expect(form, what).toBe(true);
        expect(res.status, what).toBe(200);
        expect(body, what).toMatchObject({ access_token: expect.any(String), token_type: 'Bearer' });
        expect(placed, 'the token curl comes before the requests that need a token').toEqual([]);
        token = body.access_token as string;
        fromEndpoint = true;
      } else if (promised) {
        expect(res.status, what).toBe(Number(promised));
        expect(body.code, what).toEqual(expect.any(String));
      } else if (route === 'GET /api/status') {
        expect(res.status, what).toBe(200);
        expect(body, what).toMatchObject({ service: 'orders', orders: expect.any(Number) });
      } else if (route === 'POST /api/orders') {
        expect(res.status, what).toBe(201);
        const total = sent!.items!.reduce((sum, i) => sum + i.quantity * i.unitPrice.amount, 0);
        expect(body, what).toMatchObject({ orderId: expect.stringMatching(/^ord_/), status: 'pending_payment' });
        expect((body.total as { amount: number }).amount, what).toBe(total);
        placed.push(body.orderId as string);
      } else if (route === 'GET /api/orders') {
        expect(res.status, what).toBe(200);
        const ids = (body.orders as { orderId: string }[]).map((o) => o.orderId);
        expect(ids, what).toEqual(expect.arrayContaining(placed));
      } else if (route === 'POST /api/payments/charge' && sent?.amount === undefined) {
        // The printed example of an invalid body: refused by the gateway's schema check.
        expect(res.status, what).toBe(400);
        expect(body.code, what).toBe('INVALID_ARGUMENT');
      } else if (route === 'POST /api/payments/charge') {
        expect(res.status, what).toBe(200);
        expect(body, what).toMatchObject({
          paymentId: expect.stringMatching(/^pay_/),
          orderId: sent!.orderId,
          status: 'succeeded',
          amount: sent!.amount,
        });
      } else {
        expect(res.status, `a printed command this test does not know must succeed: ${what}`).toBeLessThan(300);
      }
      if (res.status === 200) checked200++;
      console.log(`newcomer: ${route} -> ${res.status} in ${ms.toFixed(1)} ms`);
    }
    expect(fromEndpoint, 'with auth on, the demo prints a curl for its token endpoint').toBe(true);
    expect(checked200).toBeGreaterThanOrEqual(2);
    expect(placed.length).toBeGreaterThanOrEqual(1);
  });

  it('gets the live feed the printed WebSocket command promises', async () => {
    expect(demoPid, 'the demo must be running').toBeDefined();
    const token = /TOKEN=(\S+)/.exec(out)![1]!;
    const lines = out.split('\n').map((l) => l.trim());
    const wscat = lines.find((l) => l.startsWith('npx wscat '));
    expect(wscat, 'the demo prints how to open the feed').toBeDefined();
    const url = /-c (\S+)/.exec(wscat!)![1]!;
    const filter = JSON.parse(lines[lines.indexOf(wscat!) + 1]!.replace(/^>\s*/, '')) as { minAmount: number };
    const messages: Record<string, unknown>[] = [];
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    ws.on('message', (data) => messages.push(JSON.parse(String(data))));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    try {
      ws.send(JSON.stringify(filter));
      await eventually(() => expect(messages[0]).toEqual({ type: 'filter', filter }));
      // An order above the filter's amount, through the printed POST.
      const post = lines.find((l) => l.startsWith('curl ') && l.includes('-X POST') && l.includes('/api/orders'))!;
      const req = curlRequest(parseShell(post, { TOKEN: token }).commands[0]!);
      const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
      expect(res.status).toBe(201);
      const { orderId, total } = (await res.json()) as { orderId: string; total: { amount: number } };
      expect(total.amount).toBeGreaterThanOrEqual(filter.minAmount);
      await eventually(() =>
        expect(messages).toContainEqual(
          expect.objectContaining({ type: 'notification', topic: 'orders.created', orderId }),
        ),
      );
    } finally {
      ws.close();
    }
  });

  it(
    'stops cleanly on SIGTERM: npm start exits 0 and the gateway stops listening',
    async () => {
      expect(demo?.exitCode, 'the demo must still be running').toBeNull();
      const base = /gateway\s+(http:\/\/\S+)/.exec(out)![1]!;
      // npm does not pass SIGTERM on to the script (it exits at once and leaves the program
      // running), so the signal goes to the program, as a process manager would send it.
      // npm start then ends with the program's exit code.
      const exited = new Promise<number | null>((resolve) => demo!.once('exit', (code) => resolve(code)));
      const t0 = Date.now();
      process.kill(demoPid!, 'SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS)),
      ]);
      console.log(`newcomer: SIGTERM to exit ${Date.now() - t0} ms`);
      expect(code, out.slice(-2000)).toBe(0);
      expect(alive(demoPid!)).toBe(false);
      await expect(fetch(`${base}/api/status`)).rejects.toThrow();
    },
    STOP_TIMEOUT_MS + 5_000,
  );
});
