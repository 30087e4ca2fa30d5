export { PROBLEM_CONTENT_TYPE, ProblemException, problem, validationProblem } from './problem';
export { AdminApiKeys, ApiKeys, keyFingerprint, parseKeyEntry } from './api-keys';
export {
  AdminOnly,
  ApiKeyGuard,
  CallerTenant,
  Public,
  RequestId,
  callerOf,
  isPublicRoute,
  requireKeyBeforeBody,
  forbidden,
  unauthorized,
} from './api-key.guard';
export type { Caller } from './api-key.guard';
export {
  accessMode,
  describeAccess,
  exposureProblem,
  isLoopbackHost,
  readAccessConfig,
} from './access-config';
export type { AccessConfig } from './access-config';
export { DEFAULT_MAX_JSON_DEPTH, jsonBody, jsonComplexityProblem } from './json-body';
export type { JsonBodyLimits } from './json-body';
export { ProblemFilterBase, sendProblem } from './problem-filter';
export type { ProblemAnswer } from './problem-filter';
export { withTimeout } from './with-timeout';
export { answerMalformedRequests } from './malformed-requests';
