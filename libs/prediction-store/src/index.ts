export { PredictionLog, readPredictionWindow, streamRange } from './prediction-log';
export type { LoggedPredictions, PredictionLogOptions, StreamWindow, WindowBounds } from './prediction-log';
export { DEFAULT_FEEDBACK_MAX_RECORDS, FeedbackStore } from './feedback-store';
export {
  DEFAULT_EXAMPLE_MAX_PENDING,
  EXAMPLE_COUNTERS,
  ExampleBuffer,
  pendingExampleField,
} from './example-buffer';
export type { ExampleBufferOptions, ExampleCounter, ExampleStatus, ExportBatch } from './example-buffer';
export { exampleId } from './example-id';
