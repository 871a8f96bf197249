export {};
export * from './auth/index.js';
