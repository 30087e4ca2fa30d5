export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
/** The gateway's own ioredis connection (feedback, examples, health), apart from the queue client's. */
export const REDIS = Symbol('REDIS');
/** The ioredis connection the rate limit counts in (absent when RATE_LIMIT_PER_MINUTE=0). */
export const RATE_LIMIT_REDIS = Symbol('RATE_LIMIT_REDIS');
