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
  forbidden,
  unauthorized,
} from './api-key.guard';
export { accessMode, describeAccess, exposureProblem, readAccessConfig } from './access-config';
export type { AccessConfig } from './access-config';
export type { JsonBodyLimits } from './json-body';
export { ProblemFilterBase, sendProblem } from './problem-filter';
export type { ProblemAnswer } from './problem-filter';
export { withTimeout } from './with-timeout';
export { MetricsController } from './metrics.controller';
export { assertNotExposed, openHttpEdge, parseBodiesAfterKeys } from './http-app';
export { readHttpServerConfig } from './server-config';
export type { HttpServerConfig } from './server-config';
export { filterAnswer } from './filter-answer';
export type { FilterAnswer } from './filter-answer';
