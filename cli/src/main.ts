#!/usr/bin/env node
/**
 * The `switchyard` binary (cli/dist/main.js once built; cli/bin/switchyard.js runs the
 * sources). The first SIGINT/SIGTERM asks the running command to stop: `gateway` and
 * `subscribe` shut down gracefully, one-shot commands cancel what they wait for. A second
 * signal exits at once.
 */
import { EXIT } from './output/exit-codes.js';
import { processIo } from './output/io.js';
import { runCli } from './run-cli.js';

const controller = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (controller.signal.aborted) process.exit(EXIT.INTERRUPTED);
  controller.abort(signal);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// `switchyard routes list | head -1`: a reader that stops reading is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(EXIT.OK);
  throw err;
});

const code = await runCli(process.argv.slice(2), processIo(controller.signal));
// Exit explicitly: a library timer left behind must not keep a finished command alive.
process.stdout.write('', () => process.exit(code));
