import { readFileSync } from 'node:fs';
import { CANONICAL_CODES, type ErrorCode, SPECIFIC_CODES } from '@switchyard/broker';
import { HTTP_STATUS_BY_CODE, httpStatusOf, WS_CLOSE, WS_CLOSE_CODES, wsCloseCodeOf } from '@switchyard/gateway';
import { describe, expect, it } from 'vitest';

// The WebSocket close codes of docs/gateway.md ("WebSocket streams") are the code's table:
// 4000 + the HTTP status of the error, one per canonical code, and the RFC 6455 codes the
// bridge uses for the connection itself.
const doc = readFileSync(new URL('../../docs/gateway.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## WebSocket streams'), doc.indexOf('## Tracing'));

describe('WebSocket close codes', () => {
  it('are 4000 + the HTTP status, distinct for every canonical code, specific codes as their canonical one', () => {
    const codes = CANONICAL_CODES.map((c) => wsCloseCodeOf(c));
    expect(new Set(codes).size).toBe(CANONICAL_CODES.length);
    for (const c of CANONICAL_CODES) expect(wsCloseCodeOf(c)).toBe(4000 + HTTP_STATUS_BY_CODE[c]);
    for (const c of Object.keys(SPECIFIC_CODES) as ErrorCode[]) expect(wsCloseCodeOf(c)).toBe(4000 + httpStatusOf(c));
    for (const code of codes) expect(code >= 4000 && code <= 4999 && WS_CLOSE_CODES.has(code)).toBe(true);
  });

  it('docs/gateway.md lists each of them, and each RFC 6455 code the bridge sends', () => {
    for (const c of CANONICAL_CODES) expect(section).toContain(`${wsCloseCodeOf(c)} \`${c}\``);
    for (const code of Object.values(WS_CLOSE)) expect(section).toMatch(new RegExp(`\\n\\| ${code} \\|`));
  });
});
