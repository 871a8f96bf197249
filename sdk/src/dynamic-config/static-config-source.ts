import { InvalidOptionsError } from '@switchyard/broker';
import { type ConfigDocument, deepFreeze, isObject, jsonCopy } from './config-paths.js';
import type { ConfigSource } from './config-source.js';

/** A fixed layer: the defaults under everything, or the explicit overrides over everything. */
export class StaticConfigSource implements ConfigSource {
  readonly synced = true;
  readonly #doc: ConfigDocument;

  constructor(
    readonly name: string,
    doc: unknown,
  ) {
    if (!isObject(doc)) {
      throw new InvalidOptionsError(`config ${name} must be an object`, { details: { option: name } });
    }
    try {
      this.#doc = deepFreeze(jsonCopy(doc));
    } catch (err) {
      throw new InvalidOptionsError(`config ${name} must be JSON (${(err as Error).message})`, {
        details: { option: name },
      });
    }
  }

  async start(): Promise<void> {}

  current(): ConfigDocument {
    return this.#doc;
  }

  subscribe(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {}
}
