export { digestOf, type PlannedFile } from './download';
export { ModelPullError, PullCancelledError, throwIfCancelled } from './errors';
export { DEFAULT_ENDPOINT } from './hub-client';
export {
  DEFAULT_REPO,
  hubSettingsFromEnv,
  isModelVariant,
  MANIFEST_FILE,
  DEFAULT_REVISION,
  pullModel,
  type ModelVariant,
  type PullManifest,
  type PullModelOptions,
  type PullModelResult,
} from './pull';
