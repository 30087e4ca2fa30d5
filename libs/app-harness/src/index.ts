export {
  APP_ENTRY,
  freePort,
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
export { RedisServer } from './redis-server';
export type { RedisServerOptions } from './redis-server';
export { LOCAL_ADMIN_KEY_FILE, firstKey } from './local-stack-keys';
