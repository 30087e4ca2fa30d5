/**
 * The validator must fail on broken manifests: each case breaks one thing in a copy of a rendered overlay and
 * expects the specific problem (and, for the first ones, only problems about that one thing).
 */
import { container, envEntry, find, problemsAfter } from './fixtures';
import { K8sObject } from './yaml';

/** What the mutations touch of a ScaledObject's spec (loosely typed: they break it on purpose). */
interface ScaledSpec {
  minReplicaCount: number;
  fallback: { replicas: number };
  advanced?: unknown;
  triggers: { metadata: Record<string, unknown> }[];
}
type Probe = { httpGet: { port: number | string; path: string } };
const gateway = (objects: K8sObject[]) => container(objects, 'Deployment', 'gateway');

describe('the validator fails on', () => {
  it('a probe on the wrong port', () => {
    const problems = problemsAfter('production', (objects) => {
      (gateway(objects).readinessProbe as Probe).httpGet.port = 8080;
    });
    expect(problems).toEqual([
      'Deployment/gateway container gateway: readinessProbe port 8080, but the app listens on PORT=3000',
    ]);
  });

  it('a container port that is not the one the app listens on', () => {
    const problems = problemsAfter('production', (objects) => {
      container(objects, 'Deployment', 'inference-worker').ports = [{ name: 'http', containerPort: 3002 }];
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'Deployment/inference-worker container inference-worker: port "http" is 3002, but the app listens on HEALTH_PORT=3001',
        'Deployment/inference-worker container inference-worker: livenessProbe port http (3002), but the app listens on HEALTH_PORT=3001',
        "Service/inference-worker: no port reaches the app's HEALTH_PORT=3001",
      ]),
    );
  });

  it('a probe on a path the app does not serve', () => {
    const problems = problemsAfter('small', (objects) => {
      (container(objects, 'Deployment', 'drift-monitor').livenessProbe as Probe).httpGet.path = '/healthz';
    });
    expect(problems).toEqual([
      'Deployment/drift-monitor container drift-monitor: livenessProbe path /healthz, but the app serves /health/live',
    ]);
  });

  it('a reference to a Secret that is neither defined nor documented', () => {
    const problems = problemsAfter('production', (objects) => {
      const ref = envEntry(objects, 'Deployment', 'gateway', 'API_KEYS').valueFrom?.secretKeyRef;
      if (ref) ref.name = 'gateway-keys';
    });
    expect(problems).toEqual([
      'Deployment/gateway container gateway API_KEYS references Secret gateway-keys key API_KEYS, which the overlay ' +
        'does not define and docs/kubernetes.md does not list as created outside it (tools/k8s-checks/src/secrets.ts)',
    ]);
  });

  it('a reference to a key the documented Secret does not have', () => {
    const problems = problemsAfter('small', (objects) => {
      const ref = envEntry(objects, 'StatefulSet', 'redis', 'REDIS_PASSWORD').valueFrom?.secretKeyRef;
      if (ref) ref.key = 'password';
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^StatefulSet\/redis container redis REDIS_PASSWORD references Secret reputation-monitor-redis key password,/,
      ),
    ]);
  });

  it.each([
    [
      'no tag',
      'ghcr.io/acme/reputation-monitor/gateway',
      /has no tag \(that is "latest"\); pin the commit CI pushed/,
    ],
    ['latest', 'ghcr.io/acme/reputation-monitor/gateway:latest', /is not pinned to a commit \(tag "latest"/],
    ['a branch', 'ghcr.io/acme/reputation-monitor/gateway:main', /is not pinned to a commit \(tag "main"/],
    [
      'another image',
      `ghcr.io/acme/reputation-monitor/drift-monitor:${'a'.repeat(40)}`,
      /is not this repository's gateway image/,
    ],
  ])('an app image with %s', (_case, image, message) => {
    const problems = problemsAfter('production', (objects) => {
      gateway(objects).image = image;
    });
    expect(problems).toEqual([
      expect.stringMatching(
        new RegExp(`^Deployment/gateway container gateway: image "${image}" ${message.source}`),
      ),
    ]);
  });

  it.each([
    ['no tag', 'redis', /has no tag \(that is "latest"\); pin an exact version/],
    ['latest', 'redis:latest', /uses "latest"; pin an exact version/],
    ['a moving major', 'redis:7-alpine', /is not pinned to an exact version \(tag "7-alpine"\)/],
  ])('a third-party image with %s', (_case, image, message) => {
    const problems = problemsAfter('small', (objects) => {
      container(objects, 'StatefulSet', 'redis').image = image;
    });
    expect(problems).toEqual([expect.stringMatching(message)]);
  });

  it('a credential in a plain env value', () => {
    const problems = problemsAfter('production', (objects) => {
      const entry = envEntry(objects, 'Deployment', 'drift-monitor', 'API_KEYS');
      delete entry.valueFrom;
      entry.value = 'acme:0123456789abcdef';
    });
    expect(problems).toEqual([
      'Deployment/drift-monitor container drift-monitor: API_KEYS is a credential in a plain value; use valueFrom.secretKeyRef',
    ]);
  });

  it('a Redis URL with its password in a plain value, and Secret values committed', () => {
    const problems = problemsAfter('production', (objects) => {
      const entry = envEntry(objects, 'Deployment', 'inference-worker', 'MODEL_CACHE_DIR');
      entry.value = 'redis://:hunter2@redis:6379';
      objects.push({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'x', namespace: 'reputation-monitor' },
        stringData: { a: 'b' },
      });
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'Deployment/inference-worker container inference-worker: MODEL_CACHE_DIR holds a URL with a password; put it in a Secret',
        'Secret/x: Secret values do not belong in the repository (create it in the cluster)',
      ]),
    );
  });

  it('a variable the app does not read', () => {
    const problems = problemsAfter('production', (objects) => {
      gateway(objects).env.push({ name: 'WORKER_CONCURRENCY', value: '8' });
    });
    expect(problems).toEqual([
      'Deployment/gateway container gateway: WORKER_CONCURRENCY is not a variable gateway reads (main.js --env-schema)',
    ]);
  });

  it('a grace period shorter than the shutdown the settings allow', () => {
    const problems = problemsAfter('production', (objects) => {
      envEntry(objects, 'Deployment', 'drift-monitor', 'GOLDEN_TIMEOUT_MS').value = '120000';
    });
    expect(problems).toEqual([
      "Deployment/drift-monitor: terminationGracePeriodSeconds 80 is shorter than preStop 5 s + the app's shutdown 130 s " +
        '(its timeout + 5 s); it would be killed mid-shutdown',
    ]);
  });

  it('a Service-facing app without a preStop delay', () => {
    const problems = problemsAfter('production', (objects) => {
      delete gateway(objects).lifecycle;
    });
    expect(problems).toEqual([
      'Deployment/gateway container gateway: needs a preStop sleep of 5 s or more, so the Service stops routing to it before SIGTERM',
    ]);
  });

  it('ONNX Runtime threads not tied to the CPU limit, or a fractional limit', () => {
    const problems = problemsAfter('production', (objects) => {
      const worker = container(objects, 'Deployment', 'inference-worker');
      const threads = envEntry(objects, 'Deployment', 'inference-worker', 'INTRA_OP_THREADS');
      delete threads.valueFrom;
      threads.value = '4';
      worker.resources = {
        requests: { cpu: '1500m', memory: '3Gi' },
        limits: { cpu: '1500m', memory: '3Gi' },
      };
    });
    expect(problems).toEqual([
      'Deployment/inference-worker container inference-worker: INTRA_OP_THREADS must come from resourceFieldRef limits.cpu of this container',
      'Deployment/inference-worker container inference-worker: the CPU limit must be whole cores (INTRA_OP_THREADS rounds it up)',
    ]);
  });

  it('a model pinned to a branch, or without its sha256', () => {
    const problems = problemsAfter('production', (objects) => {
      envEntry(objects, 'Deployment', 'inference-worker', 'MODEL_REVISION', 'model-pull').value = 'main';
      envEntry(objects, 'Deployment', 'inference-worker', 'MODEL_SHA256', 'model-pull').value = '';
    });
    expect(problems).toEqual([
      'Deployment/inference-worker container model-pull: MODEL_REVISION must be a full commit sha (a branch moves)',
      "Deployment/inference-worker container model-pull: MODEL_SHA256 must be the graph's sha256 (64 hex digits)",
    ]);
  });

  it('a PrometheusRule that is not the promtool-tested file', () => {
    const problems = problemsAfter('production', (objects) => {
      const rule = find<{ spec: { groups: { rules: { expr: string }[] }[] } }>(
        objects,
        'PrometheusRule',
        'reputation-monitor-serving',
      );
      rule.spec.groups[0].rules[0].expr = 'max(sentiment_queue_jobs{state="waiting"}) > 100';
    });
    expect(problems).toEqual([
      'PrometheusRule/reputation-monitor-serving differs from monitoring/prometheus/rules/serving.yml (the rules promtool ' +
        'tests); run `npx tsx tools/k8s-checks/src/cli.ts generate`',
    ]);
  });

  it('a worker ScaledObject that may scale to zero or never waits before scaling in', () => {
    const problems = problemsAfter('production', (objects) => {
      const spec = find<{ spec: ScaledSpec }>(objects, 'ScaledObject', 'inference-worker').spec;
      spec.minReplicaCount = 0;
      spec.fallback.replicas = 0;
      delete spec.advanced;
    });
    expect(problems).toEqual([
      expect.stringMatching(/^ScaledObject\/inference-worker: minReplicaCount 0; keep at least 1 worker/),
      'ScaledObject/inference-worker: set behavior.scaleDown.stabilizationWindowSeconds (60 s or more) so a dip does not remove workers',
    ]);
  });

  it('a ScaledObject or HPA that breaks its CRD or API schema', () => {
    const problems = problemsAfter('production', (objects) => {
      find<{ spec: ScaledSpec }>(
        objects,
        'ScaledObject',
        'inference-worker',
      ).spec.triggers[0].metadata.threshold = 20;
      find<{ spec: { maxReplicas: unknown } }>(
        objects,
        'HorizontalPodAutoscaler',
        'gateway',
      ).spec.maxReplicas = 'ten';
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^ScaledObject\/inference-worker: schema: .*triggers\/0\/metadata\/threshold must be string/,
        ),
        expect.stringMatching(/^HorizontalPodAutoscaler\/gateway: schema: .*maxReplicas must be integer/),
      ]),
    );
  });

  it('an Ingress that exposes /metrics', () => {
    const problems = problemsAfter('production', (objects) => {
      const ingress = find<{ spec: { rules: { http: { paths: { path: string }[] } }[] } }>(
        objects,
        'Ingress',
        'gateway',
      );
      ingress.spec.rules[0].http.paths[0].path = '/';
    });
    expect(problems).toEqual(['Ingress/gateway: path / exposes /metrics, which has no authentication']);
  });

  it('a NetworkPolicy that lets anyone reach a worker, or any pod reach Redis', () => {
    const problems = problemsAfter('small', (objects) => {
      find<{ spec: { ingress: unknown[] } }>(objects, 'NetworkPolicy', 'inference-worker').spec.ingress.push(
        {},
      );
      find<{ spec: { ingress: { from: unknown[] }[] } }>(
        objects,
        'NetworkPolicy',
        'redis',
      ).spec.ingress[0].from = [{ podSelector: {} }];
    });
    expect(problems).toEqual([
      'NetworkPolicy: gateway -> inference-worker:3001/TCP is allowed; it must be blocked',
      'NetworkPolicy: the Ingress controller -> inference-worker:3001/TCP is allowed; it must be blocked',
      'NetworkPolicy: a pod of namespace default -> inference-worker:3001/TCP is allowed; it must be blocked',
      'NetworkPolicy: an address on the internet -> inference-worker:3001/TCP is allowed; it must be blocked',
      'NetworkPolicy: another pod of the namespace -> inference-worker:3001/TCP is allowed; it must be blocked',
      'NetworkPolicy: drift-monitor -> inference-worker:3001/TCP is allowed; it must be blocked',
      'NetworkPolicy: another pod of the namespace -> Redis:6379/TCP is allowed; it must be blocked',
    ]);
  });

  it('apps that cannot reach Redis', () => {
    const problems = problemsAfter('production', (objects) => {
      objects.splice(objects.indexOf(find(objects, 'NetworkPolicy', 'apps-to-redis')), 1);
    });
    expect(problems).toEqual([
      'NetworkPolicy: the apps have no path to Redis: run it in the namespace (a StatefulSet redis) or allow egress ' +
        'to the managed Redis (an ipBlock on port 6379)',
    ]);
    const blocked = problemsAfter('small', (objects) => {
      objects.splice(objects.indexOf(find(objects, 'NetworkPolicy', 'apps-to-redis')), 1);
    });
    expect(blocked).toEqual([
      'NetworkPolicy: gateway -> Redis:6379/TCP is blocked; it must be allowed',
      'NetworkPolicy: inference-worker -> Redis:6379/TCP is blocked; it must be allowed',
      'NetworkPolicy: drift-monitor -> Redis:6379/TCP is blocked; it must be allowed',
    ]);
  });

  it('a Service renamed away from the Prometheus job the alert rules select', () => {
    const problems = problemsAfter('production', (objects) => {
      find(objects, 'Service', 'drift-monitor').metadata.name = 'drift';
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'Service/drift-monitor (the Prometheus job "drift-monitor") is missing',
        'the alert rules select job="drift-monitor", but no Service drift-monitor exists',
      ]),
    );
  });

  it('apps that disagree on the queue prefix', () => {
    const problems = problemsAfter('production', (objects) => {
      envEntry(objects, 'Deployment', 'inference-worker', 'QUEUE_PREFIX').value = 'prod';
    });
    expect(problems).toEqual([
      'QUEUE_PREFIX differs between the apps (gateway=rm, inference-worker=prod, drift-monitor=rm); they would not share a queue',
    ]);
  });
});
