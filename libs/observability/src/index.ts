export * from './buckets';
export { METRICS_REGISTRY, createAppRegistry, boundedLabel } from './registry';
export {
  REQUEST_ID_HEADER,
  httpLogger,
  loggerParams,
  pinoOptions,
  readLogConfig,
  requestIdFrom,
} from './logging';
export type { LogConfig } from './logging';
export { queueTelemetry, startTracing, stopTracing, tracingEnabled } from './tracing';
export { TracedHistogram } from './exemplars';
