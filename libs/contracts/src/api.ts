import { ModelInfo, Prediction, JobTimings } from './jobs';

/** Lifecycle of a job as the API reports it (BullMQ's states, folded into what a client can act on). */
export type JobStatus = 'queued' | 'active' | 'completed' | 'failed';

export interface SentimentResult extends Prediction {
  model: ModelInfo;
  timings: JobTimings;
}

export interface BatchResult {
  jobId: string;
  model: ModelInfo;
  results: Prediction[];
  timings: JobTimings;
}

/** 202 body: the work was accepted and can be polled at `statusUrl`. */
export interface AcceptedJob {
  jobId: string;
  status: JobStatus;
  statusUrl: string;
}

export interface JobStatusView {
  jobId: string;
  status: JobStatus;
  /** Number of texts in the job. */
  items: number;
  model?: ModelInfo;
  results?: Prediction[];
  timings?: JobTimings;
  /** Set when status is failed. */
  error?: string;
}
