/**
 * Model promotion from a terminal, for operators with access to the deployment's Redis (the same operations
 * as the gateway's admin API, which needs ADMIN_API_KEYS):
 *   npm run model:versions                                       the registry's versions, gate verdicts, roles
 *   npm run model:status                                         the assignment, the workers, the history
 *   npm run model:promote -- <version> --reason <why> [--force]  make a version production
 *   npm run model:rollback -- --reason <why>                     back to the previous production that served
 *   npm run model:candidate -- <version> --mode shadow|canary --share <0..1> --reason <why>
 *   npm run model:candidate -- --clear --reason <why>
 * Environment: REDIS_URL (and REDIS_SENTINELS, REDIS_SENTINEL_NAME, REDIS_SENTINEL_PASSWORD), QUEUE_PREFIX, MODEL_REGISTRY (hf://models/<owner>/<name> or a directory; default
 * models/registry), HF_ENDPOINT, HF_TOKEN, REDIS_WAIT_REPLICAS, REDIS_WAIT_TIMEOUT_MS. The audit history records
 * `cli:<user>` and the reason. Exit codes: 0 done, 1 failed (nothing changed, or unknown), 2 refused or misused
 * (nothing changed), 3 written but no Redis replica confirmed it (read `model:status` before repeating).
 */
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { redisSettingsFromEnv } from '@reputation-monitor/config';
import { connectRedis } from '@reputation-monitor/redis-connection';
import { CANDIDATE_MODES, CandidateMode, DEFAULT_QUEUE_PREFIX } from '@reputation-monitor/contracts';
import {
  AssignmentStore,
  ModelAdmin,
  ModelAdminError,
  openModelRegistry,
} from '@reputation-monitor/model-registry';

const COMMANDS = ['versions', 'status', 'promote', 'rollback', 'candidate'] as const;
type Command = (typeof COMMANDS)[number];

class UsageError extends Error {}

function registryLocation(): string {
  const location = process.env.MODEL_REGISTRY?.trim() || 'models/registry';
  return location.startsWith('hf://') ? location : resolve(location);
}

async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2) as [Command, ...string[]];
  if (!COMMANDS.includes(command))
    throw new UsageError(`usage: model-admin <${COMMANDS.join('|')}> [options]`);
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      reason: { type: 'string' },
      force: { type: 'boolean', default: false },
      mode: { type: 'string' },
      share: { type: 'string' },
      clear: { type: 'boolean', default: false },
      history: { type: 'string', default: '10' },
    },
  });
  // With the WAIT settings: each change is confirmed on a replica, as the gateway's are.
  const settings = redisSettingsFromEnv(process.env, { wait: true });
  const redis = connectRedis(settings, { maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  const hub = {
    endpoint: process.env.HF_ENDPOINT?.trim() || 'https://huggingface.co',
    ...(process.env.HF_TOKEN?.trim() && { token: process.env.HF_TOKEN.trim() }),
  };
  const admin = new ModelAdmin(
    new AssignmentStore(redis, process.env.QUEUE_PREFIX?.trim() || DEFAULT_QUEUE_PREFIX, {
      waitReplicas: settings.waitReplicas,
      waitTimeoutMs: settings.waitTimeoutMs,
    }),
    openModelRegistry(registryLocation(), hub),
    { log: (line) => console.error(`[model-admin] ${line}`) },
  );
  const actor = `cli:${userInfo().username}`;
  const reason = () => {
    if (!values.reason?.trim()) throw new UsageError('--reason is required (it goes into the audit history)');
    return values.reason.trim();
  };
  const version = () => {
    if (positionals.length !== 1)
      throw new UsageError(`name exactly one version (got ${positionals.length})`);
    return positionals[0];
  };
  const print = (value: unknown) => process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  try {
    switch (command) {
      case 'versions':
        print(await admin.versions());
        break;
      case 'status':
        print({ ...(await admin.status()), history: await admin.history(Number(values.history)) });
        break;
      case 'promote':
        print(await admin.promote({ version: version(), force: values.force, reason: reason(), actor }));
        break;
      case 'rollback':
        print(await admin.rollback({ reason: reason(), actor }));
        break;
      case 'candidate': {
        if (values.clear) {
          print(await admin.clearCandidate({ reason: reason(), actor }));
          break;
        }
        const mode = values.mode as CandidateMode;
        if (!CANDIDATE_MODES.includes(mode))
          throw new UsageError(`--mode must be ${CANDIDATE_MODES.join(' or ')}`);
        const share = Number(values.share);
        if (!(share > 0 && share <= 1))
          throw new UsageError(`--share must be a number in (0, 1], got "${values.share}"`);
        print(await admin.setCandidate({ version: version(), mode, share, reason: reason(), actor }));
        break;
      }
    }
    return 0;
  } finally {
    redis.disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    const kind = error instanceof ModelAdminError ? ` (${error.kind})` : '';
    console.error(`[model-admin] ${error.message}${kind}`);
    if (error instanceof ModelAdminError && error.kind === 'not_replicated') process.exit(3);
    process.exit(error instanceof UsageError || error instanceof ModelAdminError ? 2 : 1);
  },
);
