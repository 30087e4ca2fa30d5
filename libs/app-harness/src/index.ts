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
