import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DASHBOARDS_DIR,
  MONITORING,
  RULES_DIR,
  alertQueries,
  dashboardQueries,
  provisionedDatasourceUid,
} from './monitoring-files';
import { promtool } from './prometheus-process';

describe('Prometheus configuration and rules (promtool)', () => {
  it.each(['prometheus.yml', 'prometheus.local.yml'])('%s passes promtool check config', (file) => {
    const { status, output } = promtool(['check', 'config', join(MONITORING, 'prometheus', file)]);
    expect(output).toContain('is valid prometheus config file syntax');
    expect(status).toBe(0);
  });

  it.each(['serving', 'model', 'redis'])(
    'the %s alert rules pass promtool check rules and their unit tests',
    (name) => {
      const check = promtool(['check', 'rules', join(RULES_DIR, `${name}.yml`)]);
      expect(check.status).toBe(0);
      const test = promtool(['test', 'rules', join(MONITORING, `prometheus/tests/${name}.test.yml`)]);
      expect(test.output).toContain('SUCCESS');
      expect(test.status).toBe(0);
    },
  );

  it('every rule file has a unit test file', () => {
    const rules = readdirSync(RULES_DIR).map((file) => file.replace(/\.yml$/, ''));
    const tests = readdirSync(join(MONITORING, 'prometheus/tests')).map((file) =>
      file.replace(/\.test\.yml$/, ''),
    );
    expect(tests.sort()).toEqual(rules.sort());
  });

  it('promtool fails a broken rule, so the checks above can fail', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    try {
      writeFileSync(
        join(dir, 'bad.yml'),
        'groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m]) > \n',
      );
      expect(promtool(['check', 'rules', join(dir, 'bad.yml')]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dashboards', () => {
  it('parse, use the provisioned data source, and every panel has a query', () => {
    expect(provisionedDatasourceUid()).toBe('prometheus');
    const { files, queries, problems } = dashboardQueries();
    expect(files.sort()).toEqual(['model-health.json', 'reputation.json', 'serving.json']);
    expect(problems).toEqual([]);
    expect(queries.length).toBeGreaterThan(15);
  });

  it('report a panel on another data source or without a query', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dashboards-'));
    try {
      cpSync(join(DASHBOARDS_DIR, 'serving.json'), join(dir, 'serving.json'));
      const dashboard = JSON.parse(readFileSync(join(dir, 'serving.json'), 'utf8'));
      dashboard.panels[0].datasource.uid = 'other';
      dashboard.panels[1].targets = [];
      writeFileSync(join(dir, 'serving.json'), JSON.stringify(dashboard));
      const { problems } = dashboardQueries(dir, 'prometheus');
      expect(problems).toEqual([
        'serving.json: Queue depth by state: data source uid is not "prometheus"',
        'serving.json: Throughput (texts classified per second): no queries',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('alert expressions', () => {
  it('are all "<query> <comparison> <threshold>", so their queries can be checked live', () => {
    const { queries, problems } = alertQueries();
    expect(problems).toEqual([]);
    expect(queries.map((query) => query.source)).toEqual([
      'model.yml: ModelDriftDetected',
      'model.yml: DriftMonitorNotRunRecently',
      'model.yml: DriftMonitorDown',
      'model.yml: RetrainTriggerFailing',
      'model.yml: CandidateWorseThanProduction',
      'model.yml: DriftWindowTrimmed',
      'redis.yml: RedisMemoryNearLimit',
      'redis.yml: RedisMemoryFull',
      'redis.yml: RedisDown',
      'serving.yml: SentimentBacklogGrowing',
      'serving.yml: SentimentLatencyHigh',
      'serving.yml: NoActiveInferenceWorker',
      'serving.yml: SentimentErrorRatioHigh',
      'serving.yml: InferenceJobsFailing',
      'serving.yml: EnqueuesNotReplicated',
    ]);
    const expr = (source: string) => queries.find((query) => query.source === source)?.expr;
    expect(expr('serving.yml: NoActiveInferenceWorker')).toBe(
      '(sum(up{job="inference-worker"}) or vector(0))',
    );
    expect(expr('redis.yml: RedisDown')).toBe('min(redis_up{job="redis"} or up{job="redis"})');
  });
});
