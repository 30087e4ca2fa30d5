export * from './buckets';
export { createAppRegistry, boundedLabel } from './registry';
