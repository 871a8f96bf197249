/** The fixture side of lib/fixture.ts: READY when serving, CPU on SIGUSR2, stop on SIGTERM. */

/** CPU time (user + system) this process has used so far, in µs. */
export function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export function announceReady(stop: () => Promise<void>): void {
  process.on('SIGUSR2', () => console.log(`CPU ${cpuMicros()}`));
  process.once('SIGTERM', () => {
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
  console.log('READY');
}
