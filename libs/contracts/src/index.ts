export * from './labels';
export * from './queues';
export * from './jobs';
export * from './errors';
export * from './validation';
export * from './api';
export * from './feedback';
