export * from './codec.js';
export * from './errors.js';
export { MemoryBus, type MemoryQueueStats } from './memory/bus.js';
export { type DecodedDeadLetter, MemoryTransport } from './memory/memory-transport.js';
export type { MemoryDeadLetter } from './memory/messages.js';
export { MEMORY_TRANSPORT_DEFAULTS, type MemoryTransportOptions } from './memory/options.js';
export * from './transport.js';
export { AmqpTransport } from './amqp/amqp-transport.js';
export type { AmqpTransportOptions, TransportLogger } from './amqp/options.js';
