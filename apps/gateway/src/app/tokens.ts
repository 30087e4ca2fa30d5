export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
/** The gateway's own ioredis connection (feedback, examples, health), apart from the queue client's. */
export const REDIS = Symbol('REDIS');
/** The ioredis connection the rate limit counts in (absent when RATE_LIMIT_PER_MINUTE=0). */
export const RATE_LIMIT_REDIS = Symbol('RATE_LIMIT_REDIS');
/**
 * The admin API's connection to the model assignment: its writes wait for a replica (WAIT holds the connection
 * up to REDIS_WAIT_TIMEOUT_MS), which must not stall feedback or readiness on REDIS.
 */
export const ADMIN_REDIS = Symbol('ADMIN_REDIS');
