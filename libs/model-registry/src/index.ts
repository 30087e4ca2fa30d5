export {
  ModelRegistryError,
  uploadModelVersion,
  type UploadedModelVersion,
  type UploadModelVersionOptions,
} from './hub-upload';
