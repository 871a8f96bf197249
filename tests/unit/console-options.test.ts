import { resolveGatewayOptions } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';
import { CONSOLE_DEFAULTS, resolveConsole } from '../../gateway/src/console/console-options.js';

describe('the console option', () => {
  it('is on by default, for the operator scope', () => {
    expect(resolveGatewayOptions({ env: {} }).console).toEqual({ ...CONSOLE_DEFAULTS, assetsDir: undefined });
    expect(resolveConsole(false)).toBe(false);
    expect(resolveConsole({ auth: 'admin-port', operatorScope: 'ops', samples: 10 })).toMatchObject({
      auth: 'admin-port',
      operatorScope: 'ops',
      samples: 10,
    });
  });

  it.each([
    [{ auth: 'none' }, 'console.auth'],
    [{ operatorScope: 'two words' }, 'console.operatorScope'],
    [{ sampleIntervalMs: 10 }, 'console.sampleIntervalMs'],
    [{ samples: 1.5 }, 'console.samples'],
    [{ assetsDir: '' }, 'console.assetsDir'],
    [{ typo: 1 }, 'console.typo'],
    ['yes', 'console'],
  ])('refuses %j naming %s', (value, option) => {
    expect(() => resolveGatewayOptions({ env: {}, console: value as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', details: { option } }),
    );
  });
});
