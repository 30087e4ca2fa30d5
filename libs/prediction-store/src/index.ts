export { PredictionLog, readPredictionWindow, streamRange } from './prediction-log';
export type { LoggedPredictions, PredictionLogOptions, WindowBounds } from './prediction-log';
export { FeedbackStore } from './feedback-store';
export { EXAMPLE_COUNTERS, ExampleBuffer } from './example-buffer';
export type { ExampleBufferOptions, ExampleCounter, ExampleStatus, ExportBatch } from './example-buffer';
export { exampleId } from './example-id';
