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
export { writeGoldenSet } from './golden-set';
export type { GoldenSetSource } from './golden-set';
