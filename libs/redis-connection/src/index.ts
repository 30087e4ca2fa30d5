export {
  DEFAULT_REDIS_URL,
  DEFAULT_SENTINEL_NAME,
  DEFAULT_WAIT_REPLICAS,
  DEFAULT_WAIT_TIMEOUT_MS,
  MAX_WAIT_REPLICAS,
  connectRedis,
  describeRedis,
  redisOptions,
  redisSettingsProblems,
  redisUrlProblem,
  sentinelNameProblem,
  waitReplicasProblem,
  waitTimeoutProblem,
  WAIT_TIMEOUT_MS_RANGE,
  usesSentinels,
} from './settings';
export type { RedisSettings, SentinelAddress, WaitReplicas } from './settings';
export {
  AUTO_MAX_LAG_SECONDS,
  AUTO_REFRESH_MS,
  ReplicaWaitInterruptedError,
  ReplicaWaiter,
  replicaLags,
} from './replica-waiter';
export type {
  ReplicaWaitOutcome,
  ReplicaWaitResult,
  ReplicaWaiterOptions,
  WaitClient,
} from './replica-waiter';
export { CappedHashRing, DEFAULT_RING_BUCKETS, ringStateKey } from './capped-hash-ring';
export type { CappedHashRingOptions, RingLimits } from './capped-hash-ring';
