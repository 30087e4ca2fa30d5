import { SentimentJobName } from './queues';
import { SentimentLabel, SentimentScores } from './labels';

/** Longest input the model accepts, in token ids including <s> and </s>. */
export const MODEL_MAX_TOKENS = 512;

/**
 * Client-supplied ids: the characters BullMQ accepts in a job id (it reserves ':'), bounded in length
 * so they can be used in URLs and Redis keys as they are.
 */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Tenants own jobs: an HTTP client's tenant is named by its API key entry (`<tenant>:<key>`), an internal
 * producer names its own (SentimentProducer's `tenant` option). Job ids, results and feedback are scoped by it.
 */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,39}$/;

/** Sources the system writes itself; a client that sent one could hide its traffic from drift detection. */
export const GOLDEN_SOURCE = 'drift-golden';
export const RESERVED_SOURCES: ReadonlySet<string> = new Set([GOLDEN_SOURCE]);

/**
 * The id a prediction is indexed, streamed and labelled under: the caller's id within its tenant, so two
 * tenants that both call a text "42" never see each other's prediction or feedback.
 */
export function scopedPredictionId(tenant: string | undefined, id: string): string {
  return tenant === undefined ? id : `${tenant}/${id}`;
}

export interface TextItem {
  /** Prediction id: the client's own id, or one the producer assigns. */
  id: string;
  text: string;
}

/** Version 1 of the classify job payload. Bump `v` and keep reading old versions when it changes. */
export interface ClassifyJobPayloadV1 {
  v: 1;
  items: TextItem[];
  /** Where the texts came from (a channel or client name); used for reporting, not for routing. */
  source?: string;
  /** Enqueue time in ms since epoch, set by the producer. */
  enqueuedAt: number;
  /** Who owns the job (TENANT_PATTERN); absent for unowned jobs (an API served without keys). */
  tenant?: string;
  /** The request that created it (x-request-id), so its log lines and predictions can be found by it. */
  requestId?: string;
}

export type ClassifyJobPayload = ClassifyJobPayloadV1;

export interface ModelInfo {
  name: string;
  version: string;
}

export interface Prediction {
  id: string;
  label: SentimentLabel;
  scores: SentimentScores;
  /** Token ids fed to the model, including <s> and </s>. */
  tokens: number;
  /** True when the text was longer than the model's limit and its tail was cut. */
  truncated: boolean;
}

export interface JobTimings {
  /** Enqueued -> picked up by a worker. */
  queueMs: number;
  /** Picked up -> all predictions ready (tokenizing, batching, inference). */
  processingMs: number;
}

export interface ClassifyJobResultV1 {
  v: 1;
  model: ModelInfo;
  predictions: Prediction[];
  timings: JobTimings;
}

export type ClassifyJobResult = ClassifyJobResultV1;

/** Payload and result types keyed by job name, so a producer and its handler cannot disagree. */
export interface SentimentJobs {
  [SentimentJobName.Classify]: { payload: ClassifyJobPayload; result: ClassifyJobResult };
}
