import { randomBytes } from 'node:crypto';

/**
 * Backdating of `notBefore`: a machine whose clock runs a little behind the CA's would
 * otherwise refuse a certificate issued a moment ago as "not yet valid".
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

const DAY_MS = 86_400_000;

export function validityWindow(days: number, now = Date.now()): { notBefore: Date; notAfter: Date } {
  return { notBefore: new Date(now - CLOCK_SKEW_MS), notAfter: new Date(now + days * DAY_MS) };
}

/**
 * 128 random bits as hex (RFC 5280: positive, at most 20 octets; CA/B forum: >= 64 bits of
 * entropy). First byte: top bit cleared (positive without a pad byte), never zero (DER
 * minimal encoding would otherwise shorten it).
 */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}
