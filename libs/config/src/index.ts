export { EnvReader, ConfigError } from './env-reader';
export type { EnvVariable } from './env-reader';
export { printEnvSchemaIfAsked } from './env-schema';
export { closeOnSignals } from './shutdown';
export { readRedisSettings, redisEnv, redisSettingsFromEnv } from './redis-settings';
export type { RedisEnvOptions } from './redis-settings';
