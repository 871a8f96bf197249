/** Error replies as on the wire (docs/protocol.md §6): a JSON ErrorBody, whatever the request's codec. */
import { errorFromJSON, type SwitchyardError } from '../errors.js';
import type { RpcReply } from './messages.js';

export function errorReply(err: SwitchyardError): RpcReply {
  return { status: 'error', body: Buffer.from(JSON.stringify(err.toJSON())) };
}

/** The typed error of an error reply; a malformed body becomes INTERNAL, never a throw. */
export function errorOfReply(body: Buffer): SwitchyardError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  return errorFromJSON(parsed);
}
