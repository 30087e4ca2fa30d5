export { EnvReader, ConfigError } from './env-reader';
export { closeOnSignals } from './shutdown';
