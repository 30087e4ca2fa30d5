import { appSchemas } from './env-schema';
import { container, envEntry, find, overlayObjects } from './fixtures';
import { schemaProblems } from './schema';
import { describeConnection } from './network';
import { contextOf, networkExpectations, validateObjects } from './validate';
import { OVERLAYS } from './workspace';

describe.each(OVERLAYS)('overlay %s', (overlay) => {
  const objects = overlayObjects(overlay);

  it('renders the three apps, their autoscalers, budgets, policies, Ingress and monitoring objects', () => {
    const kinds = objects.map((object) => `${object.kind}/${object.metadata.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/reputation-monitor',
        'Deployment/gateway',
        'Deployment/inference-worker',
        'Deployment/drift-monitor',
        'HorizontalPodAutoscaler/gateway',
        'ScaledObject/inference-worker',
        'PodDisruptionBudget/gateway',
        'PodDisruptionBudget/inference-worker',
        'PodDisruptionBudget/drift-monitor',
        'NetworkPolicy/default-deny',
        'NetworkPolicy/apps-to-redis',
        'Ingress/gateway',
        'ServiceMonitor/gateway',
        'ServiceMonitor/inference-worker',
        'ServiceMonitor/drift-monitor',
        'PrometheusRule/reputation-monitor-serving',
        'ConfigMap/grafana-dashboard-serving',
      ]),
    );
  });

  it('passes the Kubernetes, KEDA and Prometheus Operator schemas', () => {
    expect(schemaProblems(objects)).toEqual([]);
  });

  it("passes the project's rules", () => {
    expect(validateObjects(objects, appSchemas())).toEqual([]);
  });

  it('ties the worker to its CPU limit and its model to a pinned pull', () => {
    expect(envEntry(objects, 'Deployment', 'inference-worker', 'INTRA_OP_THREADS').valueFrom).toEqual({
      resourceFieldRef: { containerName: 'inference-worker', resource: 'limits.cpu', divisor: '1' },
    });
    const pull = container(objects, 'Deployment', 'inference-worker', 'model-pull');
    expect(pull.image).toMatch(/^ghcr\.io\/[^/]+\/[^/]+\/model-pull:[0-9a-f]{40}$/);
    expect(String((pull.args as string[])[0])).toContain('sha256sum -c');
  });

  it('checks a real picture of who may reach whom', () => {
    const expectations = networkExpectations(contextOf(objects, appSchemas())).map(
      ({ connection, allow }) => `${describeConnection(connection)} ${allow ? 'allowed' : 'blocked'}`,
    );
    expect(expectations).toEqual(
      expect.arrayContaining([
        'the Ingress controller -> gateway:3000/TCP allowed',
        'the Ingress controller -> drift-monitor:3003/TCP blocked',
        'the Ingress controller -> inference-worker:3001/TCP blocked',
        'an address on the internet -> gateway:3000/TCP blocked',
        'Prometheus -> gateway:3000/TCP allowed',
        'Prometheus -> inference-worker:3001/TCP allowed',
        'Prometheus -> drift-monitor:3003/TCP allowed',
        'gateway -> inference-worker:3001/TCP blocked',
        'inference-worker -> an address on the internet:443/TCP allowed',
        'inference-worker -> an address on the internet:22/TCP blocked',
        'drift-monitor -> cluster DNS:53/UDP allowed',
        expect.stringMatching(/^gateway -> (Redis|the managed Redis \(.*\)):6379\/TCP allowed$/),
        expect.stringMatching(
          /^another pod of the namespace -> (Redis|the managed Redis \(.*\)):6379\/TCP blocked$/,
        ),
      ]),
    );
    expect(expectations.length).toBeGreaterThan(30);
  });
});

describe('the overlays differ where they should', () => {
  it('production uses a managed Redis; small runs its own with a password, maxmemory and noeviction', () => {
    expect(overlayObjects('production').some((object) => object.kind === 'StatefulSet')).toBe(false);
    const redis = container(overlayObjects('small'), 'StatefulSet', 'redis');
    expect(redis.args).toEqual(
      expect.arrayContaining([
        '--requirepass',
        '$(REDIS_PASSWORD)',
        '--maxmemory-policy',
        'noeviction',
        '--maxmemory',
      ]),
    );
  });

  it('scales production wider than small', () => {
    const range = (overlay: 'production' | 'small') => {
      const spec = find<{ spec: { minReplicaCount: number; maxReplicaCount: number } }>(
        overlayObjects(overlay),
        'ScaledObject',
        'inference-worker',
      ).spec;
      return [spec.minReplicaCount, spec.maxReplicaCount];
    };
    expect(range('production')).toEqual([2, 20]);
    expect(range('small')).toEqual([1, 2]);
  });
});
