import { basename } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { dashboardFiles, generatedFiles, ruleFiles } from './generate';
import { find, overlayObjects } from './fixtures';
import { readWorkspaceFile, OVERLAYS } from './workspace';

describe('the generated monitoring objects', () => {
  it('are up to date with monitoring/ (run `npx tsx tools/k8s-checks/src/cli.ts generate` after a change there)', () => {
    for (const [path, text] of Object.entries(generatedFiles())) {
      expect({ path, text: readWorkspaceFile(path) }).toEqual({ path, text });
    }
  });

  it.each(OVERLAYS)('in overlay %s, carry every promtool-tested rule file unchanged', (overlay) => {
    const objects = overlayObjects(overlay);
    const files = ruleFiles();
    expect(files.map(({ file }) => file)).toEqual([
      'monitoring/prometheus/rules/model.yml',
      'monitoring/prometheus/rules/redis.yml',
      'monitoring/prometheus/rules/serving.yml',
    ]);
    for (const { file, spec } of files) {
      const name = `reputation-monitor-${basename(file, '.yml')}`;
      const rule = find<{ spec: unknown }>(objects, 'PrometheusRule', name);
      expect(isDeepStrictEqual(rule.spec, spec)).toBe(true);
      expect(rule.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    }
    expect(objects.filter((object) => object.kind === 'PrometheusRule')).toHaveLength(files.length);
  });

  it.each(OVERLAYS)("in overlay %s, give Grafana's sidecar every dashboard", (overlay) => {
    const objects = overlayObjects(overlay);
    for (const { name, text } of dashboardFiles()) {
      const map = find<{ data: Record<string, string> }>(
        objects,
        'ConfigMap',
        `grafana-dashboard-${name.replace('.json', '')}`,
      );
      expect(map.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
      expect(map.data[name]).toBe(text);
    }
  });
});
