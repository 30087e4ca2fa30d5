export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
/** The gateway's own ioredis connection (feedback, examples, health), apart from the queue client's. */
export const REDIS = Symbol('REDIS');
