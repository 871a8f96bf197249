/**
 * What both transports check of a bidi method's definition at `serve()`, and what they
 * answer a request whose kind does not fit the method (docs/protocol.md §9, "Version").
 */
import { FailedPreconditionError, InvalidOptionsError, type SwitchyardError } from '../errors.js';
import type { MethodDefinition } from '../transport.js';
import { BIDI_VERSION, MAX_BIDI_WINDOW } from './frames.js';

export function checkBidiDefinition(name: string, def: MethodDefinition): void {
  if (def.bidi === undefined) {
    if (def.inputWindow !== undefined)
      throw new InvalidOptionsError(`methods.${name}.inputWindow applies only to bidi and client-streaming methods`);
    return;
  }
  if (def.bidi !== 'bidi' && def.bidi !== 'client')
    throw new InvalidOptionsError(`methods.${name}.bidi must be "bidi" or "client", got ${JSON.stringify(def.bidi)}`);
  if (def.streaming)
    throw new InvalidOptionsError(`methods.${name} is either server-streaming (streaming) or bidi (bidi), not both`);
  const w = def.inputWindow;
  if (w !== undefined && (!Number.isInteger(w) || w < 1 || w > MAX_BIDI_WINDOW))
    throw new InvalidOptionsError(
      `methods.${name}.inputWindow must be an integer 1-${MAX_BIDI_WINDOW}, got ${JSON.stringify(w)}`,
    );
}

/** The refusal for a request that cannot open `def` (kind or version mismatch); undefined when it can. */
export function bidiRefusal(
  service: string,
  method: string,
  def: MethodDefinition,
  kind: string | undefined,
  version: string | undefined,
): SwitchyardError | undefined {
  const label = `${service}.${method}`;
  if (def.bidi !== kind) {
    const as =
      def.bidi === 'bidi'
        ? 'a bidi stream'
        : def.bidi === 'client'
          ? 'a client stream'
          : def.streaming
            ? 'a server stream'
            : 'a unary call';
    return new FailedPreconditionError(
      `${label} is not a ${kind ?? 'unary or server-streaming'} method: call it as ${as}`,
      {
        details: { service, method, kind: def.bidi ?? (def.streaming ? 'server' : 'unary') },
      },
    );
  }
  if (version !== BIDI_VERSION) {
    return new FailedPreconditionError(
      `${label}: bidi stream version ${JSON.stringify(version ?? null)} is not spoken here`,
      { details: { supported: [BIDI_VERSION] } },
    );
  }
  return undefined;
}
