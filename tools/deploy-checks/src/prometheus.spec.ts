import { DEPLOYABLE_APPS } from './apps';
import { AppSchemas } from './compose';
import { appSchemas, loadCompose, mutate, read } from './fixtures';
import { checkPrometheusCompose, checkPrometheusLocal, parsePrometheus } from './prometheus';

let schemas: AppSchemas;

beforeAll(() => {
  schemas = appSchemas();
});

describe('monitoring/prometheus/prometheus.yml', () => {
  const text = read('prometheus');
  const check = (config = text, compose = loadCompose().file) =>
    checkPrometheusCompose(parsePrometheus(config, 'prometheus.yml'), compose, DEPLOYABLE_APPS, schemas);

  it('scrapes each app by compose service name at the port it listens on', () => {
    expect(check()).toEqual([]);
  });

  it('catches a wrong port, a host that is no service, a missing job, and a static worker target', () => {
    expect(check(mutate(text, "'gateway:3000'", "'gateway:3001'"))).toEqual([
      'prometheus.yml: job gateway scrapes port 3001, but PORT is 3000',
    ]);
    expect(check(mutate(text, "'gateway:3000'", "'api:3000'"))).toEqual([
      'prometheus.yml: job gateway scrapes api, which is not a compose service',
      'prometheus.yml: job gateway scrapes api, not gateway',
    ]);
    expect(check(mutate(text, 'job_name: inference-worker', 'job_name: worker'))).toEqual([
      'prometheus.yml: no "inference-worker" job',
    ]);
    const fixed = mutate(
      text,
      /dns_sd_configs:[\s\S]*?refresh_interval: 15s/,
      "static_configs:\n      - targets: ['inference-worker:3001']",
    );
    expect(check(fixed)).toEqual([
      expect.stringContaining('has a static target, which reaches one replica at a time'),
    ]);
  });

  it('scrapes the Redis exporter as job redis (what the Redis alerts select), and catches a job renamed or moved', () => {
    expect(check(mutate(text, 'job_name: redis', 'job_name: redis-exporter'))).toEqual([
      'prometheus.yml: no "redis" job scraping redis-exporter:9121',
    ]);
    expect(check(mutate(text, "'redis-exporter:9121'", "'redis:6379'"))).toEqual([
      'prometheus.yml: job redis scrapes redis:6379, not redis-exporter:9121',
    ]);
  });

  it('catches drift with compose: a service renamed, an app port moved, the config not mounted', () => {
    const compose = read('compose');
    const renamed = loadCompose(mutate(compose, /^ {2}gateway:$/m, '  api:')).file;
    expect(check(text, renamed)).toContainEqual(
      'prometheus.yml: job gateway scrapes gateway, which is not a compose service',
    );
    const moved = loadCompose(mutate(compose, "HEALTH_PORT: '3001'", "HEALTH_PORT: '3005'")).file;
    expect(check(text, moved)).toEqual([
      'prometheus.yml: job inference-worker scrapes port 3001, but HEALTH_PORT is 3005',
    ]);
    const unmounted = loadCompose(
      mutate(compose, ':/etc/prometheus/prometheus.yml:ro', ':/etc/prometheus/other.yml:ro'),
    ).file;
    expect(check(text, unmounted)).toEqual([
      'prometheus: monitoring/prometheus/prometheus.yml is not mounted at /etc/prometheus/prometheus.yml',
    ]);
  });

  it('rejects a file that is not valid YAML', () => {
    expect(() => parsePrometheus(`${text}\n  - job_name: [broken`, 'prometheus.yml')).toThrow(
      /not valid YAML/,
    );
  });
});

describe('monitoring/prometheus/prometheus.local.yml', () => {
  const text = read('prometheusLocal');
  const check = (config = text) =>
    checkPrometheusLocal(parsePrometheus(config, 'prometheus.local.yml'), DEPLOYABLE_APPS, schemas);

  it('scrapes the apps on 127.0.0.1 at their default ports (npm start)', () => {
    expect(check()).toEqual([]);
  });

  it('catches a compose host and a wrong port', () => {
    expect(check(mutate(text, "'127.0.0.1:3000'", "'gateway:3000'"))).toEqual([
      'prometheus.local.yml: job gateway scrapes gateway; npm start runs everything on 127.0.0.1',
    ]);
    expect(check(mutate(text, "'127.0.0.1:3001'", "'127.0.0.1:9464'"))).toEqual([
      'prometheus.local.yml: job inference-worker scrapes port 9464, but HEALTH_PORT defaults to 3001',
    ]);
  });
});
