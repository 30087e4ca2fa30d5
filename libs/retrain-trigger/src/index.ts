export {
  RetrainTrigger,
  DEFAULT_EVENT_TYPE,
  DEFAULT_GITHUB_API_URL,
  DEFAULT_COOLDOWN_SECONDS,
  DEFAULT_DISPATCH_ATTEMPTS,
  DEFAULT_DISPATCH_BACKOFF_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from './retrain-trigger';
export type { RetrainTriggerOptions, RetrainLogger, RetrainResult, RetrainOutcome } from './retrain-trigger';
export {
  shapeClientPayload,
  MAX_CLIENT_PAYLOAD_BYTES,
  MAX_CLIENT_PAYLOAD_KEYS,
  MAX_REASON_CHARS,
  MAX_ID_CHARS,
} from './payload';
export type { RetrainRequest, RetrainClientPayload, PayloadTruncation } from './payload';
