/**
 * One error model for every Switchyard package.
 *
 * Each failure has a stable `code`. Canonical codes follow gRPC's status names so
 * that callers in any language recognise them; specific codes (SCHEMA_INCOMPATIBLE,
 * CIRCUIT_OPEN, ...) refine a canonical one and say exactly what happened. Callers
 * branch on `code`, never on `message`. The JSON shape produced by `toJSON()` is the
 * one that travels on the wire (RPC error replies) and in gateway error bodies; it is
 * documented in docs/errors.md.
 */

/** gRPC-like canonical codes. Every specific code maps to exactly one of these. */
export const CANONICAL_CODES = [
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'DEADLINE_EXCEEDED',
  'UNAVAILABLE',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'CANCELLED',
  'UNIMPLEMENTED',
  'INTERNAL',
] as const;
export type CanonicalCode = (typeof CANONICAL_CODES)[number];

/** Specific codes and the canonical code each one refines. */
export const SPECIFIC_CODES = {
  /** A schema could not be parsed or compiled. */
  SCHEMA_INVALID: 'INVALID_ARGUMENT',
  /** A schema id was asked for that no loaded schema has. */
  SCHEMA_NOT_FOUND: 'NOT_FOUND',
  /** Publishing a schema version that would break existing producers or consumers. */
  SCHEMA_INCOMPATIBLE: 'FAILED_PRECONDITION',
  /** A service name was asked for that has no live instance. */
  SERVICE_NOT_FOUND: 'NOT_FOUND',
  /** The target's circuit breaker is open: calls fail fast. */
  CIRCUIT_OPEN: 'UNAVAILABLE',
  /** The method's bulkhead (max concurrent handlers) is full. */
  BULKHEAD_FULL: 'RESOURCE_EXHAUSTED',
  /** A rate limit was hit. */
  RATE_LIMITED: 'RESOURCE_EXHAUSTED',
  /** A publish could not be routed to any queue. */
  UNROUTABLE: 'UNAVAILABLE',
  /** The client or component was already closed. */
  CLOSED: 'UNAVAILABLE',
  /** A bounded buffer (publish while disconnected, stream) overflowed. */
  BUFFER_FULL: 'RESOURCE_EXHAUSTED',
  /** Options given at construction are wrong. */
  INVALID_OPTIONS: 'INVALID_ARGUMENT',
  /** A compare-and-set store write or delete lost: the record's version is not the one given. */
  VERSION_CONFLICT: 'FAILED_PRECONDITION',
  /** A store write carried a lock's fencing token older than one the store has already seen. */
  FENCED: 'FAILED_PRECONDITION',
  /** A service's config fails its schema (at start, or a change that was refused while the last good config kept serving). */
  CONFIG_INVALID: 'INVALID_ARGUMENT',
  /** A server-streaming method yielded an item that fails the method's item schema: the stream ends there. */
  STREAM_ITEM_INVALID: 'INTERNAL',
} as const satisfies Record<string, CanonicalCode>;
export type SpecificCode = keyof typeof SPECIFIC_CODES;

export type ErrorCode = CanonicalCode | SpecificCode;

const canonicalSet = new Set<string>(CANONICAL_CODES);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (canonicalSet.has(value) || Object.hasOwn(SPECIFIC_CODES, value));
}

/** The canonical code a (possibly specific) code refines. */
export function canonicalOf(code: ErrorCode): CanonicalCode {
  return canonicalSet.has(code) ? (code as CanonicalCode) : SPECIFIC_CODES[code as SpecificCode];
}

/** Codes for which trying again (later, or on another instance) can succeed. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'UNAVAILABLE',
  'CIRCUIT_OPEN',
  'UNROUTABLE',
  'RESOURCE_EXHAUSTED',
  'BULKHEAD_FULL',
  'RATE_LIMITED',
  'BUFFER_FULL',
]);

/** The documented JSON shape of an error, on the wire and in HTTP bodies. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  /** Structured detail, e.g. `{ violations: [{ pointer, message }] }`. */
  details?: Record<string, unknown>;
  retryable: boolean;
}

export interface SwitchyardErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
  retryable?: boolean;
}

export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: SwitchyardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchyardError';
    this.code = code;
    this.details = options.details;
    this.retryable = options.retryable ?? RETRYABLE.has(code);
  }

  get canonical(): CanonicalCode {
    return canonicalOf(this.code);
  }

  toJSON(): ErrorBody {
    const body: ErrorBody = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.details !== undefined) body.details = this.details;
    return body;
  }
}

function defineError<C extends ErrorCode>(code: C, name: string) {
  const cls = class extends SwitchyardError {
    declare readonly code: C;
    constructor(message: string, options?: SwitchyardErrorOptions) {
      super(code, message, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

export const InvalidArgumentError = defineError('INVALID_ARGUMENT', 'InvalidArgumentError');
export const NotFoundError = defineError('NOT_FOUND', 'NotFoundError');
export const AlreadyExistsError = defineError('ALREADY_EXISTS', 'AlreadyExistsError');
export const DeadlineExceededError = defineError('DEADLINE_EXCEEDED', 'DeadlineExceededError');
export const UnavailableError = defineError('UNAVAILABLE', 'UnavailableError');
export const UnauthenticatedError = defineError('UNAUTHENTICATED', 'UnauthenticatedError');
export const PermissionDeniedError = defineError('PERMISSION_DENIED', 'PermissionDeniedError');
export const ResourceExhaustedError = defineError('RESOURCE_EXHAUSTED', 'ResourceExhaustedError');
export const FailedPreconditionError = defineError('FAILED_PRECONDITION', 'FailedPreconditionError');
export const CancelledError = defineError('CANCELLED', 'CancelledError');
export const UnimplementedError = defineError('UNIMPLEMENTED', 'UnimplementedError');
export const InternalError = defineError('INTERNAL', 'InternalError');

export const SchemaInvalidError = defineError('SCHEMA_INVALID', 'SchemaInvalidError');
export const SchemaNotFoundError = defineError('SCHEMA_NOT_FOUND', 'SchemaNotFoundError');
export const SchemaIncompatibleError = defineError('SCHEMA_INCOMPATIBLE', 'SchemaIncompatibleError');
export const ServiceNotFoundError = defineError('SERVICE_NOT_FOUND', 'ServiceNotFoundError');
export const CircuitOpenError = defineError('CIRCUIT_OPEN', 'CircuitOpenError');
export const BulkheadFullError = defineError('BULKHEAD_FULL', 'BulkheadFullError');
export const RateLimitedError = defineError('RATE_LIMITED', 'RateLimitedError');
export const UnroutableError = defineError('UNROUTABLE', 'UnroutableError');
export const ClosedError = defineError('CLOSED', 'ClosedError');
export const BufferFullError = defineError('BUFFER_FULL', 'BufferFullError');
export const InvalidOptionsError = defineError('INVALID_OPTIONS', 'InvalidOptionsError');
export const VersionConflictError = defineError('VERSION_CONFLICT', 'VersionConflictError');
export const FencedError = defineError('FENCED', 'FencedError');
export const ConfigInvalidError = defineError('CONFIG_INVALID', 'ConfigInvalidError');
export const StreamItemInvalidError = defineError('STREAM_ITEM_INVALID', 'StreamItemInvalidError');

/** One JSON-pointer-addressed problem in a payload. */
export interface Violation {
  /** JSON pointer into the payload ('' is the root). */
  pointer: string;
  message: string;
}

/** INVALID_ARGUMENT carrying every violation, for payloads that fail a schema. */
export function validationError(what: string, violations: Violation[]): SwitchyardError {
  const summary = violations.map((v) => `${v.pointer || '/'}: ${v.message}`).join('; ');
  return new InvalidArgumentError(`${what} is invalid: ${summary}`, { details: { violations } });
}

/**
 * Rebuild a typed error from its JSON body (e.g. an RPC error reply from a service in
 * another language). Unknown or malformed bodies become INTERNAL, never a throw.
 */
export function errorFromJSON(body: unknown): SwitchyardError {
  if (typeof body !== 'object' || body === null) {
    return new InternalError('malformed error reply', { details: { body } });
  }
  const b = body as Partial<ErrorBody>;
  const code: ErrorCode = isErrorCode(b.code) ? b.code : 'INTERNAL';
  const message = typeof b.message === 'string' ? b.message : `remote error ${String(b.code)}`;
  const details =
    typeof b.details === 'object' && b.details !== null ? (b.details as Record<string, unknown>) : undefined;
  const opts: SwitchyardErrorOptions = {};
  if (details) opts.details = details;
  if (typeof b.retryable === 'boolean') opts.retryable = b.retryable;
  const err = new SwitchyardError(code, message, opts);
  return err;
}

/**
 * Anything thrown, as a SwitchyardError. Non-Switchyard errors become INTERNAL with a
 * generic message: their text may hold internals that must not leak to a caller.
 */
export function toSwitchyardError(err: unknown): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  return new InternalError('internal error', { cause: err });
}

export function isSwitchyardError(err: unknown, code?: ErrorCode): err is SwitchyardError {
  return err instanceof SwitchyardError && (code === undefined || err.code === code);
}
