export * from '@switchyard/broker';
