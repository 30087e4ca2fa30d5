export { PROBLEM_CONTENT_TYPE, ProblemException, problem, validationProblem } from './problem';
export { ApiKeys } from './api-keys';
export { ApiKeyGuard, Public, unauthorized } from './api-key.guard';
