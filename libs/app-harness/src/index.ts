export { APP_ENTRY, freePort, spawnApp, startGateway, startWorker, stopAll, waitFor } from './processes';
export type { AppProcess, LaunchOptions } from './processes';
export { deletePrefix } from './redis-prefix';
