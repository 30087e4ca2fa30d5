/** Nest injection tokens. */
export const DRIFT_CONFIG = Symbol('DRIFT_CONFIG');
/** The app's own ioredis connection (stream, feedback, profiles, reports). */
export const REDIS = Symbol('REDIS');
/** The loaded golden set, or null when GOLDEN_SET_PATH is unset. */
export const GOLDEN_SET = Symbol('GOLDEN_SET');
/** The SentimentProducer the golden set goes through, or null without a golden set. */
export const PRODUCER = Symbol('PRODUCER');
