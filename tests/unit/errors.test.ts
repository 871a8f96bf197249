import {
  CANONICAL_CODES,
  CircuitOpenError,
  canonicalOf,
  errorFromJSON,
  InvalidArgumentError,
  SPECIFIC_CODES,
  SwitchyardError,
  toSwitchyardError,
  validationError,
} from '@switchyard/broker';
import { describe, expect, it } from 'vitest';

describe('error model', () => {
  it('serialises to the documented JSON shape and back', () => {
    const err = validationError('request', [{ pointer: '/qty', message: 'must be >= 1' }]);
    const wire = JSON.parse(JSON.stringify(err));
    expect(wire).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'request is invalid: /qty: must be >= 1',
      details: { violations: [{ pointer: '/qty', message: 'must be >= 1' }] },
      retryable: false,
    });
    const back = errorFromJSON(wire);
    expect(back).toBeInstanceOf(SwitchyardError);
    expect(back.code).toBe('INVALID_ARGUMENT');
    expect(back.details).toEqual(wire.details);
  });

  it('maps every specific code to a canonical one', () => {
    for (const [code, canonical] of Object.entries(SPECIFIC_CODES)) {
      expect(CANONICAL_CODES).toContain(canonical);
      expect(canonicalOf(code as keyof typeof SPECIFIC_CODES)).toBe(canonical);
    }
    expect(new CircuitOpenError('open').canonical).toBe('UNAVAILABLE');
    expect(new CircuitOpenError('open').retryable).toBe(true);
    expect(new InvalidArgumentError('bad').retryable).toBe(false);
  });

  it('turns malformed remote bodies into INTERNAL instead of throwing', () => {
    expect(errorFromJSON('nope').code).toBe('INTERNAL');
    expect(errorFromJSON({ code: 'MADE_UP', message: 'x' }).code).toBe('INTERNAL');
    expect(errorFromJSON(null).code).toBe('INTERNAL');
  });

  it('hides the message of foreign errors', () => {
    const err = toSwitchyardError(new Error('password=hunter2 at db.ts:12'));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).not.toContain('hunter2');
    expect(err.name).toBe('InternalError');
  });
});
