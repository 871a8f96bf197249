import { continueTrace, formatTraceparent, parseTraceparent, startTrace } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

const VALID = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('W3C trace context', () => {
  it('parses a valid traceparent', () => {
    expect(parseTraceparent(VALID)).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentSpanId: '00f067aa0ba902b7',
      flags: '01',
    });
  });

  it.each([
    undefined,
    '',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
    `${VALID}-extra`,
  ])('rejects %j', (header) => {
    expect(parseTraceparent(header)).toBeUndefined();
  });

  it('accepts later versions with extra fields', () => {
    expect(parseTraceparent(`01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-whatever`)?.traceId).toBe(
      '4bf92f3577b34da6a3ce929d0e0e4736',
    );
  });

  it('continues a trace with a new span whose parent is the received span', () => {
    const t = continueTrace(VALID);
    expect(t.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(t.parentSpanId).toBe('00f067aa0ba902b7');
    expect(t.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(t.spanId).not.toBe('00f067aa0ba902b7');
    expect(t.flags).toBe('01');
    expect(formatTraceparent(t)).toBe(`00-${t.traceId}-${t.spanId}-01`);
    expect(parseTraceparent(formatTraceparent(t))?.parentSpanId).toBe(t.spanId);
  });

  it('starts a new trace when the header is missing or malformed, with fresh ids each time', () => {
    const a = continueTrace('garbage');
    const b = startTrace();
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.parentSpanId).toBeUndefined();
    expect(a.traceId).not.toBe(b.traceId);
    const spans = new Set(Array.from({ length: 2000 }, () => startTrace().spanId));
    expect(spans.size).toBe(2000);
  });
});
