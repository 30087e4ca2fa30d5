export {
  ModelRegistryError,
  uploadModelVersion,
  type UploadedModelVersion,
  type UploadModelVersionOptions,
} from './hub-upload';
export {
  DEFAULT_ENDPOINT,
  DEFAULT_REPO,
  DEFAULT_REVISION,
  hubSettingsFromEnv,
  isModelVariant,
  MANIFEST_FILE,
  ModelPullError,
  PullCancelledError,
  pullModel,
  type ModelVariant,
  type PlannedFile,
  type PullManifest,
  type PullModelOptions,
  type PullModelResult,
} from './pull';
export {
  gateVerdict,
  openModelRegistry,
  parseModelLocation,
  type GateSummary,
  type ModelRegistry,
  type ModelVersionInfo,
} from './registry';
export { GATE_REPORT_FILE } from './model-version';
export { hubModelLocation } from './model-location';
export {
  ASSIGNMENT_HISTORY_MAXLEN,
  AssignmentStore,
  assignmentKey,
  type AssignmentStoreOptions,
  type ServedVersions,
  type WatchOptions,
} from './assignment-store';
export {
  ModelAdmin,
  ModelAdminError,
  sameVersion,
  type Actor,
  type ModelAdminErrorKind,
  type ModelAdminOptions,
} from './model-admin';
