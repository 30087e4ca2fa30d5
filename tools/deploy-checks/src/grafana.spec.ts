import { loadCompose, mutate, read } from './fixtures';
import { checkGrafanaProvisioning } from './grafana';
import { WORKSPACE_ROOT } from './workspace';

describe('monitoring/grafana/provisioning', () => {
  const datasources = read('grafanaDatasources');
  const dashboards = read('grafanaDashboards');
  const check = (ds = datasources, db = dashboards, compose = loadCompose().file) =>
    checkGrafanaProvisioning(ds, db, compose, WORKSPACE_ROOT);

  it('points the data source (uid prometheus) at the compose Prometheus and reads the mounted dashboards', () => {
    expect(check()).toEqual([]);
  });

  it('catches a wrong uid, host or port', () => {
    expect(check(mutate(datasources, 'uid: prometheus', 'uid: prom'))).toEqual([
      'grafana: the prometheus data source uid is prom, want prometheus',
    ]);
    expect(check(mutate(datasources, 'http://prometheus:9090', 'http://localhost:9090'))).toEqual([
      'grafana: the data source url http://localhost:9090 does not name the prometheus service',
    ]);
    expect(check(mutate(datasources, 'http://prometheus:9090', 'http://prometheus:9091'))).toEqual([
      "grafana: the data source url http://prometheus:9091 is not Prometheus's port 9090",
    ]);
  });

  it('catches a dashboards path compose does not mount, and a file that is not provisioning', () => {
    expect(
      check(datasources, mutate(dashboards, 'path: /var/lib/grafana/dashboards', 'path: /dashboards')),
    ).toEqual(['grafana: dashboards are read from /dashboards, which compose does not mount']);
    expect(() => check(mutate(datasources, 'apiVersion: 1', 'apiVersion: 2'))).toThrow(
      /not a Grafana provisioning file/,
    );
  });
});
