import { type Break, checkCompatibility, type JsonSchema } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

const order = (extra: Record<string, unknown> = {}, props: Record<string, unknown> = {}) => ({
  type: 'object',
  properties: {
    sku: { type: 'string' },
    qty: { type: 'integer', minimum: 1, maximum: 100 },
    note: { type: 'string', maxLength: 200 },
    ...props,
  },
  required: ['sku', 'qty'],
  ...extra,
});

/** The one break expected, by exact pointer and a word of its message. */
function expectBreak(breaks: Break[], pointer: string, word: string | RegExp): void {
  const at = breaks.filter((b) => b.pointer === pointer);
  expect(at, `breaks were: ${JSON.stringify(breaks)}`).toHaveLength(1);
  expect(at[0]!.message).toMatch(word);
}

interface Case {
  name: string;
  old: JsonSchema;
  new: JsonSchema;
  /** [pointer, word] of every break expected; empty = compatible. */
  breaks: Array<[string, string | RegExp]>;
}

const breaking: Case[] = [
  {
    name: 'new required property',
    old: order(),
    new: order({ required: ['sku', 'qty', 'note'] }),
    breaks: [['/required', /"note" became required/]],
  },
  {
    name: 'property removed while additionalProperties is closed',
    old: order({ additionalProperties: false }),
    new: {
      ...order({ additionalProperties: false }),
      properties: { sku: { type: 'string' }, qty: { type: 'integer' } },
    },
    breaks: [['/properties/note', /removed/]],
  },
  {
    name: 'new property that additionalProperties (a schema) did not allow with that type',
    old: order({ additionalProperties: { type: 'string' } }),
    new: order({ additionalProperties: { type: 'string' } }, { coupon: { type: 'integer' } }),
    breaks: [['/properties/coupon/type', /narrowed/]],
  },
  {
    name: 'new typed property on an open object that is also required',
    old: order(),
    new: order({ required: ['sku', 'qty', 'coupon'] }, { coupon: { type: 'string' } }),
    breaks: [['/required', /"coupon" became required/]],
  },
  {
    // Inside `not` the comparison runs the other way round: the open-object rule must not
    // relax it, or { x: 1 } (valid before) would be rejected unnoticed.
    name: 'not widened to exclude objects a typed property used to spare',
    old: { not: { type: 'object', properties: { x: { type: 'string' } } } },
    new: { not: { type: 'object' } },
    breaks: [['/not', /cannot prove/]],
  },
  {
    name: 'type narrowed from string to integer',
    old: order(),
    new: order({}, { sku: { type: 'integer' } }),
    breaks: [['/properties/sku/type', /narrowed/]],
  },
  {
    name: 'number narrowed to integer',
    old: { type: 'number' },
    new: { type: 'integer' },
    breaks: [['/type', /fraction/]],
  },
  {
    name: 'a type removed from a type array',
    old: { type: ['string', 'null'] },
    new: { type: 'string' },
    breaks: [['/type', /null no longer accepted/]],
  },
  {
    name: 'enum narrowed',
    old: { enum: ['card', 'bank', 'wallet'] },
    new: { enum: ['card', 'bank'] },
    breaks: [['/enum', /"wallet" no longer accepted/]],
  },
  {
    name: 'const changed',
    old: { const: 'v1' },
    new: { const: 'v2' },
    breaks: [['/const', /changed from "v1" to "v2"/]],
  },
  {
    name: 'minimum raised',
    old: order(),
    new: order({}, { qty: { type: 'integer', minimum: 2, maximum: 100 } }),
    breaks: [['/properties/qty/minimum', /lower bound narrowed/]],
  },
  {
    name: 'exclusiveMaximum replaces an equal maximum',
    old: { type: 'number', maximum: 10 },
    new: { type: 'number', exclusiveMaximum: 10 },
    breaks: [['/exclusiveMaximum', /upper bound narrowed from <= 10 to < 10/]],
  },
  {
    name: 'maxLength lowered',
    old: order(),
    new: order({}, { note: { type: 'string', maxLength: 100 } }),
    breaks: [['/properties/note/maxLength', /lowered from 200 to 100/]],
  },
  {
    name: 'minItems raised and maxItems added',
    old: { type: 'array', items: { type: 'string' } },
    new: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 5 },
    breaks: [
      ['/minItems', /raised from 0 to 1/],
      ['/maxItems', /added/],
    ],
  },
  {
    name: 'minProperties added',
    old: { type: 'object' },
    new: { type: 'object', minProperties: 1 },
    breaks: [['/minProperties', /raised/]],
  },
  {
    name: 'multipleOf changed to a value that does not divide the old one',
    old: { type: 'number', multipleOf: 0.01 },
    new: { type: 'number', multipleOf: 0.05 },
    breaks: [['/multipleOf', /changed from 0.01 to 0.05/]],
  },
  {
    name: 'additionalProperties closed',
    old: order(),
    new: order({ additionalProperties: false }),
    breaks: [['/additionalProperties', /closed/]],
  },
  {
    name: 'additionalProperties narrowed from any to string',
    old: { type: 'object', additionalProperties: true },
    new: { type: 'object', additionalProperties: { type: 'string' } },
    breaks: [['/additionalProperties/type', /narrowed to string/]],
  },
  {
    name: 'pattern added',
    old: { type: 'string' },
    new: { type: 'string', pattern: '^[A-Z]{3}$' },
    breaks: [['/pattern', /added/]],
  },
  {
    name: 'pattern changed',
    old: { type: 'string', pattern: '^[A-Z]{3}$' },
    new: { type: 'string', pattern: '^[A-Z]{2,3}$' },
    breaks: [['/pattern', /cannot prove/]],
  },
  {
    name: 'format added',
    old: { type: 'string' },
    new: { type: 'string', format: 'email' },
    breaks: [['/format', /"email" added/]],
  },
  {
    name: 'items narrowed',
    old: { type: 'array', items: { type: ['string', 'integer'] } },
    new: { type: 'array', items: { type: 'string' } },
    breaks: [['/items/type', /integer no longer accepted/]],
  },
  {
    name: 'prefixItems narrowed',
    old: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }] },
    new: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number', minimum: 0 }] },
    breaks: [['/prefixItems/1/minimum', /lower bound added/]],
  },
  {
    name: 'nested object gains a required property',
    old: { type: 'object', properties: { customer: { type: 'object', properties: { email: { type: 'string' } } } } },
    new: {
      type: 'object',
      properties: { customer: { type: 'object', properties: { email: { type: 'string' } }, required: ['email'] } },
    },
    breaks: [['/properties/customer/required', /"email" became required/]],
  },
  {
    name: 'uniqueItems added',
    old: { type: 'array' },
    new: { type: 'array', uniqueItems: true },
    breaks: [['/uniqueItems', /duplicates/]],
  },
  {
    name: 'oneOf gains a branch that overlaps',
    old: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
    new: { oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'number' }] },
    breaks: [['/oneOf', /cannot prove/]],
  },
  {
    name: 'anyOf loses a branch',
    old: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
    new: { anyOf: [{ type: 'string' }] },
    breaks: [['/anyOf', /old branch 1/]],
  },
  {
    name: 'if/then/else added',
    old: { type: 'object' },
    // biome-ignore lint/suspicious/noThenProperty: `then` is a JSON Schema keyword here
    new: { type: 'object', if: { required: ['a'] }, then: { required: ['b'] } },
    breaks: [['/if', /cannot prove/]],
  },
  {
    name: 'not added',
    old: { type: 'string' },
    new: { type: 'string', not: { const: '' } },
    breaks: [['/not', /cannot prove/]],
  },
  {
    name: 'dependentRequired added',
    old: { type: 'object' },
    new: { type: 'object', dependentRequired: { card: ['cvc'] } },
    breaks: [['/dependentRequired/card', /"cvc" became required when "card"/]],
  },
  {
    name: 'schema becomes false',
    old: { type: 'object', properties: { legacy: { type: 'string' } } },
    new: { type: 'object', properties: { legacy: false } },
    breaks: [['/properties/legacy', /every value is rejected/]],
  },
  {
    name: 'contains added',
    old: { type: 'array' },
    new: { type: 'array', contains: { const: 'x' } },
    breaks: [['/contains', /added/]],
  },
  {
    name: 'unevaluatedProperties closed',
    old: { type: 'object', properties: { a: { type: 'string' } } },
    new: { type: 'object', properties: { a: { type: 'string' } }, unevaluatedProperties: false },
    breaks: [['/unevaluatedProperties', /closed/]],
  },
  {
    name: 'an unknown keyword is added',
    old: { type: 'string' },
    new: { type: 'string', $dynamicRef: '#meta' },
    breaks: [['/$dynamicRef', /cannot prove/]],
  },
];

const compatible: Array<Omit<Case, 'breaks'>> = [
  {
    name: 'new optional property on a closed object',
    old: order({ additionalProperties: false }),
    new: order({ additionalProperties: false }, { coupon: { type: 'string' } }),
  },
  {
    name: 'new typed optional property on an open object (additionalProperties absent)',
    old: order(),
    new: order({}, { coupon: { type: 'string', maxLength: 20 } }),
  },
  {
    name: 'new typed optional property on an open object (additionalProperties: true)',
    old: order({ additionalProperties: true }),
    new: order(
      { additionalProperties: true },
      { coupon: { type: 'object', properties: { code: { type: 'string' } } } },
    ),
  },
  {
    name: 'new typed optional property on a nested open object',
    old: { type: 'object', properties: { order: order() } },
    new: { type: 'object', properties: { order: order({}, { coupon: { type: 'string' } }) } },
  },
  {
    name: 'new optional property on an object closed by unevaluatedProperties',
    old: order({ unevaluatedProperties: false }),
    new: order({ unevaluatedProperties: false }, { coupon: { type: 'string' } }),
  },
  {
    name: 'new optional property that accepts anything',
    old: order(),
    new: order({}, { coupon: { description: 'any' } }),
  },
  { name: 'widened type', old: { type: 'integer' }, new: { type: ['integer', 'string'] } },
  { name: 'integer widened to number', old: { type: 'integer' }, new: { type: 'number' } },
  { name: 'added enum value', old: { enum: ['card', 'bank'] }, new: { enum: ['card', 'bank', 'wallet'] } },
  { name: 'relaxed bounds', old: order(), new: order({}, { qty: { type: 'integer', minimum: 0 } }) },
  {
    name: 'exclusive minimum relaxed to inclusive',
    old: { type: 'number', exclusiveMinimum: 0 },
    new: { type: 'number', minimum: 0 },
  },
  {
    name: 'multipleOf that divides the old one',
    old: { type: 'number', multipleOf: 0.05 },
    new: { type: 'number', multipleOf: 0.01 },
  },
  { name: 'removed required', old: order(), new: order({ required: ['sku'] }) },
  { name: 'opened additionalProperties', old: order({ additionalProperties: false }), new: order() },
  {
    name: 'description, title and examples changed',
    old: { type: 'string', description: 'old words' },
    new: { type: 'string', description: 'new words', title: 'T', examples: ['x'] },
  },
  {
    name: 'pattern and format removed',
    old: { type: 'string', pattern: '^a', format: 'email' },
    new: { type: 'string' },
  },
  { name: 'enum replaced by its type', old: { enum: ['a', 'b'] }, new: { type: 'string' } },
  {
    name: 'anyOf gains a branch',
    old: { anyOf: [{ type: 'string' }, { type: 'integer' }] },
    new: { anyOf: [{ type: 'string' }, { type: 'integer' }, { type: 'boolean' }] },
  },
  {
    name: 'oneOf gains a branch with a new discriminator value',
    old: {
      oneOf: [
        { type: 'object', properties: { kind: { const: 'card' } }, required: ['kind'] },
        { type: 'object', properties: { kind: { const: 'bank' } }, required: ['kind'] },
      ],
    },
    new: {
      oneOf: [
        { type: 'object', properties: { kind: { const: 'card' } }, required: ['kind'] },
        { type: 'object', properties: { kind: { const: 'bank' } }, required: ['kind'] },
        { type: 'object', properties: { kind: { const: 'wallet' } }, required: ['kind'] },
      ],
    },
  },
  {
    name: 'schema split into allOf pieces',
    old: order(),
    new: { allOf: [{ type: 'object', properties: { sku: { type: 'string' } } }, { required: ['sku', 'qty'] }] },
  },
  {
    name: 'property removed from an open object',
    old: order(),
    new: { ...order(), properties: { sku: { type: 'string' }, qty: { type: 'integer' } } },
  },
  {
    name: 'then relaxed under the same if',
    // biome-ignore lint/suspicious/noThenProperty: `then` is a JSON Schema keyword here
    old: { type: 'object', if: { required: ['card'] }, then: { required: ['cvc', 'expiry'] } },
    // biome-ignore lint/suspicious/noThenProperty: `then` is a JSON Schema keyword here
    new: { type: 'object', if: { required: ['card'] }, then: { required: ['cvc'] } },
  },
  {
    name: 'not narrowed (excludes less)',
    old: { type: 'string', not: { enum: ['', ' '] } },
    new: { type: 'string', not: { const: '' } },
  },
];

describe('checkCompatibility: breaking changes', () => {
  for (const c of breaking) {
    it(c.name, () => {
      const breaks = checkCompatibility(c.old, c.new);
      for (const [pointer, word] of c.breaks) expectBreak(breaks, pointer, word);
      expect(breaks.map((b) => b.pointer).sort()).toEqual(c.breaks.map(([p]) => p).sort());
    });
  }
});

describe('checkCompatibility: compatible changes', () => {
  for (const c of compatible) {
    it(c.name, () => {
      expect(checkCompatibility(c.old, c.new)).toEqual([]);
    });
  }

  it('an identical schema has no breaks, and neither does any schema against true', () => {
    expect(checkCompatibility(order(), order())).toEqual([]);
    expect(checkCompatibility(order({ additionalProperties: false }), true)).toEqual([]);
    expect(checkCompatibility(false, order())).toEqual([]);
  });
});

describe('checkCompatibility: $ref across files', () => {
  const base = 'https://schemas.switchyard.dev';
  const moneyV1 = {
    $id: `${base}/common/money.json`,
    type: 'object',
    properties: { amount: { type: 'integer', minimum: 0 }, currency: { type: 'string', pattern: '^[A-Z]{3}$' } },
    required: ['amount', 'currency'],
  };
  const order = (total: unknown) => ({
    $id: `${base}/orders/order.create.request.json`,
    type: 'object',
    properties: { total },
    required: ['total'],
  });

  it('resolves a relative $ref into another document and reports the break inside it', () => {
    const moneyV2 = { ...moneyV1, properties: { ...moneyV1.properties, amount: { type: 'integer', minimum: 1 } } };
    const breaks = checkCompatibility(
      order({ $ref: '../common/money.json' }),
      order({ $ref: '../common/money.json' }),
      {
        resolveOld: (id) => (id === moneyV1.$id ? moneyV1 : undefined),
        resolve: (id) => (id === moneyV2.$id ? moneyV2 : undefined),
      },
    );
    expectBreak(breaks, '/properties/total/properties/amount/minimum', /lower bound narrowed/);
    expect(breaks[0]!.message).toContain('common/money.json');
    expect(breaks).toHaveLength(1);
  });

  it('an inlined schema moved behind a $ref with the same content is compatible', () => {
    const { $id: _id, ...inline } = moneyV1;
    const breaks = checkCompatibility(order(inline), order({ $ref: '../common/money.json' }), {
      resolve: (id) => (id === moneyV1.$id ? moneyV1 : undefined),
    });
    expect(breaks).toEqual([]);
  });

  it('follows $defs fragments in the same document, and survives recursive schemas', () => {
    const tree = (leaf: unknown) => ({
      $id: `${base}/common/tree.json`,
      $defs: {
        node: {
          type: 'object',
          properties: { value: leaf, children: { type: 'array', items: { $ref: '#/$defs/node' } } },
        },
      },
      $ref: '#/$defs/node',
    });
    expect(checkCompatibility(tree({ type: 'integer' }), tree({ type: 'number' }))).toEqual([]);
    const breaks = checkCompatibility(tree({ type: 'number' }), tree({ type: 'integer' }));
    expectBreak(breaks, '/properties/value/type', /fraction/);
  });

  it('an unresolvable $ref is a possible break, unless both sides point at the same URI', () => {
    const breaks = checkCompatibility(order({ type: 'object' }), order({ $ref: '../common/missing.json' }));
    expectBreak(breaks, '/properties/total/$ref', /cannot be resolved/);
    expect(
      checkCompatibility(order({ $ref: '../common/missing.json' }), order({ $ref: '../common/missing.json' })),
    ).toEqual([]);
  });
});
