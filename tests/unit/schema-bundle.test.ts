/**
 * bundleSchemas: the schemas asked for and everything they reference become named
 * components whose $refs are local pointers (fragments kept), unknown ids are reported,
 * clashing names get a suffix, and refs inside data keywords are left alone.
 */
import { bundleSchemas, componentName, type JsonSchemaObject } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

const B = 'https://schemas.example.com/';
const docs: Record<string, JsonSchemaObject> = {
  [`${B}orders/order.json`]: {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${B}orders/order.json`,
    type: 'object',
    properties: {
      id: { $ref: '../common/ids.json#/$defs/orderId' },
      item: { $ref: 'item.json' },
      self: { $ref: '#/$defs/note' },
      missing: { $ref: 'https://elsewhere.example.com/x.json' },
    },
    $defs: { note: { type: 'string' } },
    examples: [{ $ref: 'not-a-schema.json' }],
  },
  [`${B}orders/item.json`]: { $id: `${B}orders/item.json`, type: 'object', properties: { up: { $ref: 'order.json' } } },
  [`${B}common/ids.json`]: { $id: `${B}common/ids.json`, $defs: { orderId: { type: 'string' } } },
  [`${B}other/orders/item.json`]: { $id: `${B}other/orders/item.json`, type: 'string' },
};

describe('bundleSchemas', () => {
  it('gathers references transitively and rewrites them to local pointers', () => {
    const b = bundleSchemas([`${B}orders/order.json`], (id) => docs[id]);
    expect(Object.keys(b.components).sort()).toEqual(['common.ids', 'orders.item', 'orders.order']);
    const order = b.components['orders.order'] as Record<string, any>;
    expect(order.properties.id.$ref).toBe('#/components/schemas/common.ids/$defs/orderId');
    expect(order.properties.item.$ref).toBe('#/components/schemas/orders.item');
    expect(order.properties.self.$ref).toBe('#/components/schemas/orders.order/$defs/note');
    // Cycles end: item refers back to order.
    expect((b.components['orders.item'] as any).properties.up.$ref).toBe('#/components/schemas/orders.order');
    // Unknown documents stay as they were and are reported.
    expect(order.properties.missing.$ref).toBe('https://elsewhere.example.com/x.json');
    expect(b.missing).toEqual(['https://elsewhere.example.com/x.json']);
    expect(order.examples).toEqual([{ $ref: 'not-a-schema.json' }]);
    expect(order.$id).toBeUndefined();
    expect(order.$schema).toBeUndefined();
    expect(order['x-switchyard-schema']).toBe(`${B}orders/order.json`);
    expect(b.nameOf(`${B}orders/item.json`)).toBe('orders.item');
    // The source documents are untouched.
    expect((docs[`${B}orders/order.json`] as any).properties.item.$ref).toBe('item.json');
  });

  it('clashing names get a suffix; reserved names are avoided; another pointer base is used', () => {
    const b = bundleSchemas([`${B}orders/item.json`, `${B}other/orders/item.json`], (id) => docs[id], {
      reserved: ['orders.item'],
      pointerBase: '#/components/schemas/',
    });
    expect(b.nameOf(`${B}orders/item.json`)).toBe('orders.item_2');
    expect(b.nameOf(`${B}other/orders/item.json`)).toBe('other.orders.item');
  });

  it('names components from the $id path', () => {
    expect(componentName('https://s.example/orders/order.create.request.json')).toBe('orders.order.create.request');
    expect(componentName('urn:switchyard:orders:x')).toBe('switchyard_orders_x');
    expect(componentName('orders/x y.json')).toBe('orders.x_y');
  });
});
