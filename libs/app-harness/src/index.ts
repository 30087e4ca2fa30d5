export {
  APP_ENTRY,
  freePort,
  pinnedCommand,
  spawnApp,
  startDriftMonitor,
  startGateway,
  startWorker,
  stopAll,
  waitFor,
} from './processes';
export type { AppProcess, LaunchOptions } from './processes';
export { deletePrefix } from './redis-prefix';
export { SHARED_DATA_DIR, readTweetEval, writeGoldenSet } from './golden-set';
export type { GoldenSetSource, LabelledTweet } from './golden-set';
export { RedisSentinel, RedisServer, SentinelGroup } from './redis-server';
export type { RedisSentinelOptions, RedisServerOptions, SentinelGroupOptions } from './redis-server';
export { LOCAL_ADMIN_KEY_FILE, firstKey } from './local-stack-keys';
export {
  REDIS_BYTES,
  fitJobSizes,
  keyFamily,
  measureFootprint,
  redisMemoryBudget,
  ringEntries,
  usedMemory,
} from './redis-memory';
export type {
  FamilyFootprint,
  Footprint,
  JobSizes,
  KeyFamily,
  RedisBudget,
  RedisMemorySettings,
  RedisWorkload,
} from './redis-memory';
export { SOAK_PREFIX, runSoak } from './redis-soak';
export type { SoakOptions, SoakResult, SoakSample } from './redis-soak';
