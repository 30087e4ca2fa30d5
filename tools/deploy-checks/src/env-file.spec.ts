import { DEPLOYABLE_APPS } from './apps';
import { AppSchemas, composeReferences, parseCompose } from './compose';
import { checkEnvExample, parseEnvFile } from './env-file';
import { appSchemas, mutate, read, schemaOf } from './fixtures';

const compose = read('compose');
const envExample = read('envExample');
let schemas: AppSchemas;

beforeAll(() => {
  schemas = appSchemas();
});

function check(envText = envExample, composeText = compose, appSchemasOverride = schemas): string[] {
  const file = parseCompose(composeText);
  return checkEnvExample(
    parseEnvFile(envText),
    file,
    composeReferences(file),
    DEPLOYABLE_APPS,
    appSchemasOverride,
  );
}

describe('.env.example', () => {
  it('parses set and documented lines', () => {
    expect(parseEnvFile('A=1\n# B=2\n# a comment: C=3\nD="x y"\nE=z # note\n')).toEqual([
      { name: 'A', value: '1', active: true, line: 1 },
      { name: 'B', value: '2', active: false, line: 2 },
      { name: 'D', value: 'x y', active: true, line: 4 },
      { name: 'E', value: 'z', active: true, line: 5 },
    ]);
  });

  it('lists every compose and app variable once, with the default the code and compose give it', () => {
    expect(check()).toEqual([]);
  });

  it('catches a missing variable, a stale one and a duplicate', () => {
    expect(check(mutate(envExample, '# JOB_ATTEMPTS=3\n', ''))).toEqual([
      '.env.example does not list JOB_ATTEMPTS (gateway reads it)',
    ]);
    expect(check(mutate(envExample, 'WORKER_REPLICAS=1\n', ''))).toEqual([
      '.env.example does not list WORKER_REPLICAS (docker-compose.yml uses it)',
    ]);
    expect(check(`${envExample}# MODEL_PATH=/models\n`)).toEqual([
      '.env.example lists MODEL_PATH, which neither docker-compose.yml nor an app reads',
    ]);
    expect(check(`${envExample}# QUEUE_PREFIX=rm\n`)).toEqual([
      expect.stringMatching(/^\.env\.example lists QUEUE_PREFIX twice \(line \d+\)$/),
    ]);
  });

  it('catches a default that differs from the code or from compose', () => {
    expect(check(mutate(envExample, '# MAX_TEXT_CHARS=5000', '# MAX_TEXT_CHARS=4000'))).toEqual([
      '.env.example shows MAX_TEXT_CHARS=4000, but the default is "5000" (what gateway sees)',
    ]);
    expect(check(mutate(envExample, 'GRAFANA_PORT=3002', 'GRAFANA_PORT=3001'))).toEqual([
      '.env.example shows GRAFANA_PORT=3001, but the default is "3002" (docker-compose.yml)',
    ]);
    expect(
      check(
        mutate(
          envExample,
          '# REDIS_URL=redis://:${REDIS_PASSWORD}@redis:6379',
          '# REDIS_URL=redis://127.0.0.1:6379',
        ),
      ),
    ).toEqual([
      expect.stringContaining(
        '.env.example shows REDIS_URL=redis://127.0.0.1:6379, but the default is "redis://:${REDIS_PASSWORD}@redis:6379"',
      ),
    ]);
    expect(check(mutate(envExample, 'REDIS_MAXMEMORY=1gb', 'REDIS_MAXMEMORY=0'))).toEqual([
      '.env.example shows REDIS_MAXMEMORY=0, but the default is "1gb" (docker-compose.yml)',
    ]);
  });

  it('catches setting a variable compose fixes (it would have no effect)', () => {
    expect(check(mutate(envExample, '# PORT=3000', 'PORT=3000'))).toEqual([
      '.env.example sets PORT, but docker-compose.yml does not take it from .env',
    ]);
  });

  it('catches drift in the code: a new variable, a changed default', () => {
    const grown = new Map(schemas);
    grown.set('inference-worker', [
      ...schemaOf('inference-worker'),
      { name: 'MODEL_WARMUP', kind: 'boolean', default: true },
    ]);
    expect(check(envExample, compose, grown)).toContainEqual(
      '.env.example does not list MODEL_WARMUP (inference-worker reads it)',
    );
    const changed = new Map(schemas);
    changed.set(
      'gateway',
      schemaOf('gateway').map((v) => (v.name === 'JOB_ATTEMPTS' ? { ...v, default: 5 } : v)),
    );
    expect(check(envExample, compose, changed)).toEqual([
      '.env.example shows JOB_ATTEMPTS=3, but the default is "5" (what gateway sees)',
    ]);
  });
});
