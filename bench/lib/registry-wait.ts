import type { RegistryView } from '@switchyard/sdk';

/**
 * Wait until `view` lists an instance of `service`: a bench server registers before it
 * prints READY, but the caller's view may not have seen it yet. Throws after `timeoutMs`.
 */
export async function waitForInstance(view: RegistryView, service: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (view.instances(service).length === 0) {
    if (Date.now() > until) throw new Error(`the bench server ${service} never appeared in the registry`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
