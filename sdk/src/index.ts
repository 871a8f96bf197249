export * from '@switchyard/broker';
export * from './registry/index.js';
export * from './schemas/index.js';
