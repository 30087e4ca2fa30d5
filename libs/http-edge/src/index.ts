export { PROBLEM_CONTENT_TYPE, ProblemException, problem, validationProblem } from './problem';
export { AdminApiKeys, ApiKeys, keyFingerprint } from './api-keys';
export { AdminOnly, ApiKeyGuard, Public, forbidden, unauthorized } from './api-key.guard';
export { ProblemFilterBase, sendProblem } from './problem-filter';
export type { ProblemAnswer } from './problem-filter';
