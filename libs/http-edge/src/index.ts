export { PROBLEM_CONTENT_TYPE, ProblemException, problem, validationProblem } from './problem';
export { ApiKeys } from './api-keys';
export { ApiKeyGuard, Public, unauthorized } from './api-key.guard';
export { ProblemFilterBase, sendProblem } from './problem-filter';
export type { ProblemAnswer } from './problem-filter';
