/** Nest injection tokens. */
export const WORKER_CONFIG = Symbol('WORKER_CONFIG');
export const REDIS = Symbol('REDIS');
