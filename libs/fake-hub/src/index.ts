export {
  FakeHub,
  type FailureOptions,
  type FakeCommit,
  type FakeFileInfo,
  type FakeHubOptions,
  type RecordedRequest,
  type SeedOptions,
} from './fake-hub';
export { COMMIT_CONFLICT_MESSAGE, gitBlobOid, lfsPointer, sha256Hex, type RepoType } from './hub-state';
