import { ConfigError, EnvReader } from '@reputation-monitor/config';
import { DEFAULT_SCHEDULE, loadDriftConfig, readDriftConfig } from './drift-config';

function problems(env: Record<string, string>): string[] {
  try {
    loadDriftConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

describe('drift monitor config', () => {
  it('has working defaults: dry run, no golden set, every 15 minutes over 60-minute windows', () => {
    const config = loadDriftConfig({});
    expect(config).toMatchObject({
      port: 3003,
      host: '0.0.0.0',
      queuePrefix: 'rm',
      schedule: DEFAULT_SCHEDULE,
      windowMinutes: 60,
      golden: { path: undefined },
      quality: { baselineMacroRecall: undefined, tolerance: 0.05, absoluteAccuracyFloor: undefined },
      drift: { consecutiveWindows: 2, alpha: 0.01, correction: 'bonferroni', referenceSource: 'window' },
      retrain: {
        token: undefined,
        owner: 'unconfigured',
        repo: 'unconfigured',
        apiUrl: 'https://api.github.com',
        eventType: 'retrain-model',
        cooldownSeconds: 86_400,
      },
      reportRetention: 500,
      apiKeys: [],
    });
  });

  it('reads a full deployment', () => {
    const config = loadDriftConfig({
      SCHEDULE: '0 * * * *',
      WINDOW_MINUTES: '30',
      GOLDEN_SET_PATH: 'data/val_text.txt,data/val_labels.txt',
      GOLDEN_SET_LIMIT: '500',
      BASELINE_MACRO_RECALL: '0.71',
      ABSOLUTE_ACCURACY_FLOOR: '0.8',
      DRIFT_CONSECUTIVE_WINDOWS: '3',
      GITHUB_TOKEN: 'ghp_secret',
      GITHUB_REPOSITORY: 'acme/sentiment-models',
      GITHUB_API_URL: 'https://github.example.com/api/v3',
      API_KEYS: 'a-key-of-sixteen-chars',
    });
    expect(config.schedule).toBe('0 * * * *');
    expect(config.windowMinutes).toBe(30);
    expect(config.golden).toMatchObject({ path: 'data/val_text.txt,data/val_labels.txt', limit: 500 });
    expect(config.quality).toMatchObject({ baselineMacroRecall: 0.71, absoluteAccuracyFloor: 0.8 });
    expect(config.drift.consecutiveWindows).toBe(3);
    expect(config.retrain).toMatchObject({
      token: 'ghp_secret',
      owner: 'acme',
      repo: 'sentiment-models',
      apiUrl: 'https://github.example.com/api/v3',
    });
  });

  it('turns the schedule off on request', () => {
    expect(loadDriftConfig({ SCHEDULE: 'off' }).schedule).toBeUndefined();
  });

  it('names every bad variable at once', () => {
    expect(
      problems({
        SCHEDULE: '*/15 * * *',
        WINDOW_MINUTES: '0',
        BASELINE_MACRO_RECALL: '1.5',
        ABSOLUTE_ACCURACY_FLOOR: 'high',
        GITHUB_TOKEN: 'ghp_secret',
        GITHUB_API_URL: 'ftp://example.com',
        API_KEYS: 'short',
        REFERENCE_SOURCE: 'golden',
      }),
    ).toEqual([
      'SCHEDULE must be a cron expression or "off": needs 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got 4',
      'GITHUB_REPOSITORY must be set when GITHUB_TOKEN is (the repository whose workflow retrains the model)',
      'GITHUB_API_URL must be an http(s) URL, got "ftp://example.com"',
      'WINDOW_MINUTES must be an integer in 1..10080, got 0',
      'BASELINE_MACRO_RECALL must be a number in 0..1, got "1.5"',
      'ABSOLUTE_ACCURACY_FLOOR must be a number in 0..1, got "high"',
      'API_KEYS holds "<tenant>:<key>" or bare keys, comma-separated: keys must be at least 16 characters',
      'REFERENCE_SOURCE=golden needs GOLDEN_SET_PATH',
    ]);
    expect(problems({ GITHUB_REPOSITORY: 'no-slash' })).toEqual([
      'GITHUB_REPOSITORY must be owner/repo, got "no-slash"',
    ]);
  });

  it('lists every variable for --env-schema', () => {
    const reader = new EnvReader({});
    readDriftConfig(reader);
    const names = reader.variables.map((variable) => variable.name);
    expect(names.slice(0, 9)).toEqual([
      'PORT',
      'HOST',
      'REDIS_URL',
      'REDIS_SENTINELS',
      'REDIS_SENTINEL_NAME',
      'REDIS_SENTINEL_PASSWORD',
      'REDIS_WAIT_REPLICAS',
      'REDIS_WAIT_TIMEOUT_MS',
      'QUEUE_PREFIX',
    ]);
    expect(names).toEqual(
      expect.arrayContaining([
        'SCHEDULE',
        'WINDOW_MINUTES',
        'GOLDEN_SET_PATH',
        'GOLDEN_SET_LIMIT',
        'GOLDEN_TIMEOUT_MS',
        'BASELINE_MACRO_RECALL',
        'QUALITY_TOLERANCE',
        'ABSOLUTE_ACCURACY_FLOOR',
        'CANDIDATE_ALPHA',
        'DRIFT_CONSECUTIVE_WINDOWS',
        'DRIFT_ALPHA',
        'MIN_WINDOW_SAMPLES',
        'GITHUB_TOKEN',
        'GITHUB_REPOSITORY',
        'GITHUB_API_URL',
        'RETRAIN_EVENT_TYPE',
        'RETRAIN_COOLDOWN_SECONDS',
        'REPORT_RETENTION',
        'API_KEYS',
      ]),
    );
    expect(new Set(names).size).toBe(names.length);
  });
});
