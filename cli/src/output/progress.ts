import type { CliIo } from './io.js';

/** Progress appears only for work slower than this: quick commands stay quiet. */
export const PROGRESS_DELAY_MS = 1_000;
const FRAME_MS = 80;
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Run `work`, and if it takes longer than a second draw a spinner with `label` on
 * stderr — only when stderr is a terminal, so pipes, logs and `--json` output never
 * see it. The line is erased when the work ends.
 */
export async function withProgress<T>(io: CliIo, label: string, work: () => Promise<T>): Promise<T> {
  if (!io.stderrIsTTY) return work();
  let frame = 0;
  let drawn = false;
  let ticker: NodeJS.Timeout | undefined;
  const starter = setTimeout(() => {
    ticker = setInterval(() => {
      drawn = true;
      io.stderr.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label}`);
    }, FRAME_MS);
  }, PROGRESS_DELAY_MS);
  try {
    return await work();
  } finally {
    clearTimeout(starter);
    if (ticker) clearInterval(ticker);
    if (drawn) io.stderr.write('\r\x1b[2K');
  }
}
