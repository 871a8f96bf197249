import { join, resolve } from 'node:path';
import {
  compileSchemas,
  InvalidArgumentError,
  loadSchemaDirectory,
  type SchemaValidator,
  type SwitchyardError,
} from '@switchyard/sdk';
import { beforeAll, describe, expect, it } from 'vitest';

const shipped = join(resolve(import.meta.dirname, '../..'), 'schemas');
const BASE = 'https://schemas.switchyard.dev';
let validators: Map<string, SchemaValidator>;

beforeAll(async () => {
  const { documents } = await loadSchemaDirectory(shipped);
  validators = compileSchemas(documents).validators;
});

const v = (path: string) => validators.get(`${BASE}/${path}`)!;

describe('validator violations', () => {
  it('lists every violation, not just the first, with pointers into the payload', () => {
    const violations = v('orders/order.create.request.json').validate({
      items: [{ sku: 'MUG-BLUE-350', quantity: 0, unitPrice: { amount: 1.5, currency: 'eur' } }],
      coupon: 'FREE',
    });
    expect(violations).toEqual([
      { pointer: '/customerId', message: 'is required' },
      { pointer: '/coupon', message: 'is not an allowed property' },
      { pointer: '/items/0/quantity', message: 'must be at least 1' },
      { pointer: '/items/0/unitPrice/amount', message: 'must be an integer' },
      { pointer: '/items/0/unitPrice/currency', message: 'must match the pattern ^[A-Z]{3}$' },
    ]);
  });

  it('reads well for types, enums, formats, lengths and oneOf variants', () => {
    const violations = v('payments/payment.charge.response.json').validate({
      paymentId: 'pay_9Kd3Mw7Rtq',
      orderId: 'ord_7Hc2Lq9XkP',
      status: 'lost',
      amount: { amount: 10, currency: 'EUR', extra: true },
      processedAt: 'yesterday',
    });
    expect(violations).toContainEqual({
      pointer: '/status',
      message: 'must be one of "succeeded", "declined", "pending"',
    });
    expect(violations).toContainEqual({ pointer: '/amount/extra', message: 'is not an allowed property' });
    expect(violations).toContainEqual({ pointer: '/processedAt', message: 'must be a valid date-time' });

    const charge = v('payments/payment.charge.request.json').validate({
      orderId: 'ord_7Hc2Lq9XkP',
      amount: { amount: 100, currency: 'EUR' },
      method: { kind: 'cash' },
      idempotencyKey: 'short',
    });
    expect(charge).toContainEqual({ pointer: '/method', message: 'must match exactly one of the allowed shapes' });
    expect(charge).toContainEqual({ pointer: '/method/kind', message: 'must be exactly "card"' });
    expect(charge).toContainEqual({ pointer: '/idempotencyKey', message: 'must be at least 8 characters long' });
  });

  it('applies if/then rules and names bad property names', () => {
    const violations = v('notifications/notification.send.request.json').validate({
      channel: 'sms',
      to: 'not-a-number',
      template: 'order.confirmed',
      variables: { 'bad-name': 'x', n: [1] },
    });
    expect(violations).toEqual([
      { pointer: '/to', message: 'must match the pattern ^\\+[1-9][0-9]{6,14}$' },
      { pointer: '/variables/bad-name', message: 'name must match the pattern ^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
      { pointer: '/variables/n', message: 'must be a string, a number or a boolean' },
    ]);
    // The if-branch that does not apply adds nothing.
    expect(
      v('notifications/notification.send.request.json').validate({
        channel: 'push',
        to: 'device-token',
        template: 't',
      }),
    ).toEqual([]);
  });

  it('escapes JSON pointer tokens for property names with / and ~', () => {
    const { validators: local } = compileSchemas([
      {
        id: 'https://schemas.test/escape.json',
        origin: 'memory',
        schema: { $id: 'https://schemas.test/escape.json', type: 'object', required: ['a/b', 'c~d'] },
      },
    ]);
    expect(local.get('https://schemas.test/escape.json')!.validate({})).toEqual([
      { pointer: '/a~1b', message: 'is required' },
      { pointer: '/c~0d', message: 'is required' },
    ]);
  });

  it('never mutates the payload', () => {
    const payload = { channel: 'email', to: 'ada@example.com', template: 'welcome' };
    const before = structuredClone(payload);
    expect(v('notifications/notification.send.request.json').validate(payload)).toEqual([]);
    expect(payload).toEqual(before);
  });
});

describe('validator.assert', () => {
  it('throws INVALID_ARGUMENT via validationError, naming what was invalid and carrying every violation', () => {
    let caught: unknown;
    const money: SchemaValidator = v('common/money.json');
    try {
      money.assert({ amount: -1 }, 'order.create request');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    const err = caught as SwitchyardError;
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('order.create request is invalid: /currency: is required; /amount: must be at least 0');
    expect(err.toJSON().details).toEqual({
      violations: [
        { pointer: '/currency', message: 'is required' },
        { pointer: '/amount', message: 'must be at least 0' },
      ],
    });
  });

  it('passes valid data through, narrowing its type', () => {
    const money: unknown = { amount: 5, currency: 'EUR' };
    const validator: SchemaValidator<{ amount: number; currency: string }> = v('common/money.json') as never;
    validator.assert(money);
    expect(money.amount + 1).toBe(6);
    expect(validator.isValid({ amount: 5 })).toBe(false);
  });
});
