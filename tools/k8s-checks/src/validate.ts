/**
 * The project's own rules for rendered manifests, on top of the OpenAPI schemas (schema.ts): what each app
 * really reads, listens on and needs to shut down cleanly, where credentials come from, how the apps scale, who
 * may reach whom, and that the monitoring objects are the files promtool and Grafana use. Every problem names the
 * object and what to change.
 */
import { isDeepStrictEqual } from 'node:util';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { ILabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import type { IScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import {
  appNamed,
  DRIFT_MONITOR,
  EnvLookup,
  GATEWAY,
  HARD_EXIT_AFTER_GRACE_MS,
  HEALTH,
  K8S_APPS,
  K8sApp,
  MODEL_PULL,
  PROJECT_IMAGES,
  WORKER,
} from './apps';
import { AppSchemas, appSchemas, defaultText, EnvSchema } from './env-schema';
import { dashboardFiles, DASHBOARD_LABEL, ruleFiles } from './generate';
import { splitImage } from './kustomize';
import {
  allowed,
  Connection,
  describeConnection,
  verdict,
  firstAddress,
  Labels,
  Peer,
  PodPeer,
  selectorMatches,
} from './network';
import { renderOverlay } from './overlay';
import { schemaProblems } from './schema';
import { CREDENTIAL_URL, EXTERNAL_SECRETS, SECRET_VARIABLE } from './secrets';
import { K8sObject, objectId } from './yaml';

export interface Context {
  objects: readonly K8sObject[];
  schemas: AppSchemas;
  namespace: string;
}

interface PodTemplate {
  owner: K8sObject;
  labels: Labels;
  spec: IPodSpec;
}

// ---- lookups ----

const ofKind = <T>(ctx: Context, kind: string) =>
  ctx.objects.filter((o) => o.kind === kind) as unknown as (T & K8sObject)[];
const named = <T>(ctx: Context, kind: string, name: string) =>
  ofKind<T>(ctx, kind).find((object) => object.metadata.name === name);

function podTemplates(ctx: Context): PodTemplate[] {
  return ctx.objects.flatMap((owner) => {
    const template = (
      owner.spec as { template?: { metadata?: { labels?: Labels }; spec?: IPodSpec } } | undefined
    )?.template;
    return template?.spec ? [{ owner, labels: template.metadata?.labels ?? {}, spec: template.spec }] : [];
  });
}

const appTemplate = (ctx: Context, app: K8sApp) =>
  podTemplates(ctx).find((pod) => pod.owner.kind === 'Deployment' && pod.owner.metadata.name === app.name);

const appContainer = (pod: PodTemplate | undefined, app: K8sApp) =>
  pod?.spec.containers?.find((container) => container.name === app.name);

const allContainers = (pod: PodTemplate): IContainer[] => [
  ...(pod.spec.initContainers ?? []),
  ...(pod.spec.containers ?? []),
];

const where = (pod: PodTemplate, container: IContainer) =>
  `${objectId(pod.owner)} container ${container.name}`;

function schemaOf(ctx: Context, app: K8sApp): EnvSchema {
  const schema = ctx.schemas.get(app.project);
  if (!schema) throw new Error(`no env schema for ${app.project}`);
  return schema;
}

/** The value the app sees: a literal from the manifest, else its own default; undefined when from a Secret. */
function envLookup(container: IContainer | undefined, schema: EnvSchema): EnvLookup {
  return (name) => {
    const entry = container?.env?.find((env) => env.name === name);
    if (entry) return entry.value;
    return defaultText(schema, name);
  };
}

/** Parses a Kubernetes quantity (250m, 2, 512Mi, 1G) to a number of units. */
export function quantity(value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const match = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(value);
  if (!match) return undefined;
  const factors: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  return Number(match[1]) * (match[2] ? factors[match[2]] : 1);
}

const probePort = (probe: IProbe | undefined, container: IContainer): number | undefined => {
  const port = probe?.httpGet?.port;
  if (typeof port === 'number') return port;
  return container.ports?.find((entry) => entry.name === port)?.containerPort;
};

// ---- namespace ----

function namespaceProblems(ctx: Context): string[] {
  const namespaces = ofKind<K8sObject>(ctx, 'Namespace');
  const problems: string[] = [];
  if (namespaces.length !== 1)
    problems.push(`the overlay must define exactly one Namespace (found ${namespaces.length})`);
  const namespace = namespaces[0];
  if (namespace && namespace.metadata.labels?.['pod-security.kubernetes.io/enforce'] !== 'restricted') {
    problems.push(`${objectId(namespace)}: label pod-security.kubernetes.io/enforce must be "restricted"`);
  }
  for (const object of ctx.objects) {
    if (object.kind !== 'Namespace' && object.metadata.namespace !== ctx.namespace) {
      problems.push(
        `${objectId(object)}: in namespace ${object.metadata.namespace ?? '(none)'}, not ${ctx.namespace}`,
      );
    }
  }
  return problems;
}

// ---- images ----

const COMMIT = /^[0-9a-f]{40}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const EXACT_VERSION = /^v?\d+\.\d+\.\d+(?:[-_.+].*)?$/;

/** What is wrong with an image reference, or undefined. `project`: the image this repository builds. */
export function imageProblem(reference: string | undefined, project?: string): string | undefined {
  if (!reference) return 'has no image';
  const { name, tag, digest } = splitImage(reference);
  if (digest !== undefined && !DIGEST.test(digest)) return `image "${reference}" has a malformed digest`;
  if (project) {
    const want = `ghcr.io/<owner>/<repo>/${project}:<40-hex commit sha>`;
    if (!tag) return `image "${reference}" has no tag (that is "latest"); pin the commit CI pushed (${want})`;
    if (!new RegExp(`^ghcr\\.io/[a-z0-9._-]+/[a-z0-9._-]+/${project}$`).test(name)) {
      return `image "${reference}" is not this repository's ${project} image (${want})`;
    }
    if (!COMMIT.test(tag))
      return `image "${reference}" is not pinned to a commit (tag "${tag}"; want ${want})`;
    return undefined;
  }
  if (!tag) return `image "${reference}" has no tag (that is "latest"); pin an exact version`;
  if (tag === 'latest') return `image "${reference}" uses "latest"; pin an exact version`;
  if (!EXACT_VERSION.test(tag))
    return `image "${reference}" is not pinned to an exact version (tag "${tag}")`;
  return undefined;
}

function imageProblems(ctx: Context): string[] {
  return podTemplates(ctx).flatMap((pod) =>
    allContainers(pod).flatMap((container) => {
      const project = PROJECT_IMAGES.includes(container.name) ? container.name : undefined;
      const problem = imageProblem(container.image, project);
      return problem ? [`${where(pod, container)}: ${problem}`] : [];
    }),
  );
}

// ---- credentials and references ----

function credentialProblems(ctx: Context): string[] {
  const problems = podTemplates(ctx).flatMap((pod) =>
    allContainers(pod).flatMap((container) =>
      (container.env ?? []).flatMap((env: IEnvVar) => {
        if (env.value !== undefined && SECRET_VARIABLE.test(env.name)) {
          return [
            `${where(pod, container)}: ${env.name} is a credential in a plain value; use valueFrom.secretKeyRef`,
          ];
        }
        if (env.value !== undefined && CREDENTIAL_URL.test(env.value)) {
          return [`${where(pod, container)}: ${env.name} holds a URL with a password; put it in a Secret`];
        }
        if (SECRET_VARIABLE.test(env.name) && !env.valueFrom?.secretKeyRef) {
          return [`${where(pod, container)}: ${env.name} must come from valueFrom.secretKeyRef`];
        }
        return [];
      }),
    ),
  );
  for (const secret of ofKind<{ data?: unknown; stringData?: unknown }>(ctx, 'Secret')) {
    if (secret.data || secret.stringData) {
      problems.push(
        `${objectId(secret)}: Secret values do not belong in the repository (create it in the cluster)`,
      );
    }
  }
  return problems;
}

function secretKnown(ctx: Context, name: string, key?: string): boolean {
  const defined = named<{ data?: Record<string, string>; stringData?: Record<string, string> }>(
    ctx,
    'Secret',
    name,
  );
  if (defined) return key === undefined || key in { ...defined.data, ...defined.stringData };
  const external = EXTERNAL_SECRETS.find((secret) => secret.name === name);
  return external !== undefined && (key === undefined || external.keys.includes(key));
}

function referenceProblems(ctx: Context): string[] {
  const problems: string[] = [];
  const missingSecret = (what: string, name: string, key?: string) =>
    `${what} references Secret ${name}${key ? ` key ${key}` : ''}, which the overlay does not define and ` +
    `docs/kubernetes.md does not list as created outside it (tools/k8s-checks/src/secrets.ts)`;
  for (const pod of podTemplates(ctx)) {
    for (const container of allContainers(pod)) {
      for (const env of container.env ?? []) {
        const secretRef = env.valueFrom?.secretKeyRef;
        if (secretRef && !secretKnown(ctx, secretRef.name ?? '', secretRef.key)) {
          problems.push(
            missingSecret(`${where(pod, container)} ${env.name}`, secretRef.name ?? '', secretRef.key),
          );
        }
        const mapRef = env.valueFrom?.configMapKeyRef;
        if (mapRef) {
          const map = named<{ data?: Record<string, string> }>(ctx, 'ConfigMap', mapRef.name ?? '');
          if (!map?.data || !(mapRef.key in map.data)) {
            problems.push(
              `${where(pod, container)} ${env.name} references ConfigMap ${mapRef.name} key ${mapRef.key}, which is not defined`,
            );
          }
        }
      }
      if (container.envFrom?.length) {
        problems.push(`${where(pod, container)}: envFrom hides which variables are set; list them under env`);
      }
    }
    for (const volume of pod.spec.volumes ?? []) {
      if (volume.secret && !secretKnown(ctx, volume.secret.secretName ?? '')) {
        problems.push(
          missingSecret(`${objectId(pod.owner)} volume ${volume.name}`, volume.secret.secretName ?? ''),
        );
      }
    }
  }
  for (const ingress of ofKind<IIngress>(ctx, 'Ingress')) {
    for (const tls of ingress.spec?.tls ?? []) {
      if (tls.secretName && !secretKnown(ctx, tls.secretName))
        problems.push(missingSecret(objectId(ingress), tls.secretName));
    }
  }
  return problems;
}

// ---- the apps ----

function resourceProblems(ctx: Context): string[] {
  return podTemplates(ctx).flatMap((pod) =>
    allContainers(pod).flatMap((container) => {
      const problems: string[] = [];
      for (const resource of ['cpu', 'memory']) {
        const request = quantity(container.resources?.requests?.[resource] as string | undefined);
        const limit = quantity(container.resources?.limits?.[resource] as string | undefined);
        if (request === undefined || limit === undefined) {
          problems.push(
            `${where(pod, container)}: set resources.requests.${resource} and resources.limits.${resource}`,
          );
        } else if (request > limit) {
          problems.push(`${where(pod, container)}: ${resource} request is above its limit`);
        }
      }
      return problems;
    }),
  );
}

function appProblems(ctx: Context, app: K8sApp): string[] {
  const pod = appTemplate(ctx, app);
  const container = appContainer(pod, app);
  if (!pod || !container) return [`Deployment/${app.name} with a container named ${app.name} is missing`];
  const schema = schemaOf(ctx, app);
  const env = envLookup(container, schema);
  const at = where(pod, container);
  const problems: string[] = [];

  // Every variable is one the app reads (its --env-schema), each once.
  const known = new Set(schema.map((variable) => variable.name));
  const seen = new Set<string>();
  for (const entry of container.env ?? []) {
    if (!known.has(entry.name))
      problems.push(`${at}: ${entry.name} is not a variable ${app.project} reads (main.js --env-schema)`);
    if (seen.has(entry.name)) problems.push(`${at}: ${entry.name} is set twice`);
    seen.add(entry.name);
  }

  // The port the app listens on is the one declared, probed and scraped.
  const port = Number(env(app.portVariable));
  const http = container.ports?.find((entry) => entry.name === 'http');
  if (http?.containerPort !== port) {
    problems.push(
      `${at}: port "http" is ${http?.containerPort ?? 'missing'}, but the app listens on ${app.portVariable}=${port}`,
    );
  }
  const probes: [string, IProbe | undefined, string][] = [
    ['livenessProbe', container.livenessProbe, HEALTH.live],
    ['readinessProbe', container.readinessProbe, HEALTH.ready],
    ['startupProbe', container.startupProbe, HEALTH.live],
  ];
  for (const [field, probe, path] of probes) {
    if (!probe?.httpGet) {
      problems.push(`${at}: ${field} must be an httpGet on ${path}`);
      continue;
    }
    if (probe.httpGet.path !== path)
      problems.push(`${at}: ${field} path ${probe.httpGet.path}, but the app serves ${path}`);
    const probed = probePort(probe, container);
    if (probed !== port) {
      const named = typeof probe.httpGet.port === 'number' ? '' : ` (${probed ?? 'no such port'})`;
      problems.push(
        `${at}: ${field} port ${probe.httpGet.port}${named}, but the app listens on ${app.portVariable}=${port}`,
      );
    }
  }

  // SIGTERM to exit fits in the grace period, after the preStop delay.
  const preStop = container.lifecycle?.preStop;
  const command = preStop?.exec?.command ?? [];
  const preStopSeconds =
    (preStop as { sleep?: { seconds?: number } } | undefined)?.sleep?.seconds ??
    (command.length === 2 && /(^|\/)sleep$/.test(command[0]) ? Number(command[1]) : 0);
  if (app.serviceFacing && !(preStopSeconds >= 5)) {
    problems.push(
      `${at}: needs a preStop sleep of 5 s or more, so the Service stops routing to it before SIGTERM`,
    );
  }
  const exitSeconds = (app.graceMs(env) + HARD_EXIT_AFTER_GRACE_MS) / 1000;
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
  if (!(grace >= preStopSeconds + exitSeconds)) {
    problems.push(
      `${objectId(pod.owner)}: terminationGracePeriodSeconds ${grace} is shorter than preStop ${preStopSeconds} s + ` +
        `the app's shutdown ${exitSeconds} s (its timeout + ${HARD_EXIT_AFTER_GRACE_MS / 1000} s); it would be killed mid-shutdown`,
    );
  }

  // Hardened like the Pod Security "restricted" profile requires.
  for (const each of allContainers(pod)) {
    const security = each.securityContext;
    if (security?.allowPrivilegeEscalation !== false || security.readOnlyRootFilesystem !== true) {
      problems.push(
        `${where(pod, each)}: set allowPrivilegeEscalation: false and readOnlyRootFilesystem: true`,
      );
    }
  }
  if (pod.spec.securityContext?.runAsNonRoot !== true)
    problems.push(`${objectId(pod.owner)}: runAsNonRoot must be true`);
  return problems;
}

function workerProblems(ctx: Context): string[] {
  const app = appNamed(WORKER);
  const pod = appTemplate(ctx, app);
  const container = appContainer(pod, app);
  if (!pod || !container) return [];
  const at = where(pod, container);
  const env = envLookup(container, schemaOf(ctx, app));
  const problems: string[] = [];

  // ONNX Runtime threads follow the CPU limit, which is whole cores.
  const threads = container.env?.find((entry) => entry.name === 'INTRA_OP_THREADS')?.valueFrom
    ?.resourceFieldRef;
  if (threads?.resource !== 'limits.cpu' || (threads.containerName ?? container.name) !== container.name) {
    problems.push(`${at}: INTRA_OP_THREADS must come from resourceFieldRef limits.cpu of this container`);
  }
  const cpuLimit = quantity(container.resources?.limits?.cpu as string | undefined);
  if (cpuLimit === undefined || !Number.isInteger(cpuLimit)) {
    problems.push(`${at}: the CPU limit must be whole cores (INTRA_OP_THREADS rounds it up)`);
  }

  // The model comes from the model-pull init container into a volume, pinned; never from the image.
  const init = pod.spec.initContainers?.find((each) => each.name === MODEL_PULL.container);
  const modelDir = env('MODEL_DIR') ?? '';
  if (!init) return [...problems, `${objectId(pod.owner)}: needs the ${MODEL_PULL.container} init container`];
  const initEnv = (name: string) => init.env?.find((entry) => entry.name === name)?.value;
  if (!/^[0-9a-f]{40}$/.test(initEnv('MODEL_REVISION') ?? '')) {
    problems.push(`${where(pod, init)}: MODEL_REVISION must be a full commit sha (a branch moves)`);
  }
  if (!/^[0-9a-f]{64}$/.test(initEnv('MODEL_SHA256') ?? '')) {
    problems.push(`${where(pod, init)}: MODEL_SHA256 must be the graph's sha256 (64 hex digits)`);
  }
  if (initEnv('MODEL_VARIANT') !== env('MODEL_VARIANT')) {
    problems.push(
      `${where(pod, init)}: MODEL_VARIANT ${initEnv('MODEL_VARIANT')} differs from the worker's ${env('MODEL_VARIANT')}`,
    );
  }
  if (initEnv('MODEL_OUT') !== modelDir) {
    problems.push(
      `${where(pod, init)}: MODEL_OUT ${initEnv('MODEL_OUT')} is not the worker's MODEL_DIR ${modelDir}`,
    );
  }
  const script = [...(init.command ?? []), ...(init.args ?? [])].join('\n');
  const used = new Set([...script.matchAll(/\$\{?([A-Z_][A-Z0-9_]*)/g)].map((match) => match[1]));
  for (const name of used) {
    if (!init.env?.some((entry) => entry.name === name))
      problems.push(`${where(pod, init)}: the script uses $${name}, which is not set`);
  }
  for (const entry of init.env ?? []) {
    if (!used.has(entry.name) && !(MODEL_PULL.cliEnv as readonly string[]).includes(entry.name)) {
      problems.push(
        `${where(pod, init)}: ${entry.name} is set but neither the script nor model-pull reads it`,
      );
    }
  }
  const initMount = init.volumeMounts?.find((mount) => modelDir.startsWith(`${mount.mountPath}/`));
  const workerMount = container.volumeMounts?.find((mount) => mount.name === initMount?.name);
  const volume = pod.spec.volumes?.find((each) => each.name === initMount?.name);
  if (!initMount || !workerMount || workerMount.mountPath !== initMount.mountPath) {
    problems.push(
      `${at}: MODEL_DIR ${modelDir} must be on a volume the ${MODEL_PULL.container} init container writes`,
    );
  } else {
    if (workerMount.readOnly !== true) problems.push(`${at}: mount the model volume read-only`);
    if (!volume?.emptyDir && !volume?.persistentVolumeClaim) {
      problems.push(
        `${objectId(pod.owner)}: the model volume ${initMount.name} must be an emptyDir or a claim`,
      );
    }
  }
  return problems;
}

function queuePrefixProblems(ctx: Context): string[] {
  const prefixes = K8S_APPS.map((app) => {
    const pod = appTemplate(ctx, app);
    return `${app.name}=${envLookup(appContainer(pod, app), schemaOf(ctx, app))('QUEUE_PREFIX')}`;
  });
  const values = new Set(prefixes.map((entry) => entry.split('=')[1]));
  return values.size > 1
    ? [`QUEUE_PREFIX differs between the apps (${prefixes.join(', ')}); they would not share a queue`]
    : [];
}

// ---- Services, scraping and monitoring ----

function serviceProblems(ctx: Context): string[] {
  const problems: string[] = [];
  const monitors = ofKind<IServiceMonitor>(ctx, 'ServiceMonitor');
  for (const app of K8S_APPS) {
    const pod = appTemplate(ctx, app);
    const container = appContainer(pod, app);
    // The Service's name is the Prometheus job the alert rules select.
    const service = named<IService>(ctx, 'Service', app.name);
    if (!service || !pod || !container) {
      problems.push(`Service/${app.name} (the Prometheus job "${app.name}") is missing`);
      continue;
    }
    if (!service.spec?.selector || !selectorMatches({ matchLabels: service.spec.selector }, pod.labels)) {
      problems.push(`${objectId(service)}: its selector does not match ${objectId(pod.owner)}'s pods`);
    }
    const port = Number(envLookup(container, schemaOf(ctx, app))(app.portVariable));
    const servicePort = service.spec?.ports?.find((entry) => {
      const target = entry.targetPort ?? entry.port;
      return (
        (typeof target === 'number'
          ? target
          : container.ports?.find((p) => p.name === target)?.containerPort) === port
      );
    });
    if (!servicePort)
      problems.push(`${objectId(service)}: no port reaches the app's ${app.portVariable}=${port}`);
    if (monitors.length > 0 && servicePort) {
      const scraped = monitors.some(
        (monitor) =>
          selectorMatches(monitor.spec.selector, service.metadata.labels ?? {}) &&
          monitor.spec.endpoints?.some(
            (endpoint) => endpoint.port === servicePort.name && endpoint.path === HEALTH.metrics,
          ),
      );
      if (!scraped)
        problems.push(
          `${objectId(service)}: no ServiceMonitor scrapes ${HEALTH.metrics} on port ${servicePort.name}`,
        );
    }
  }
  // Every job the alert rules select is scraped, under that name (the Service's).
  if (monitors.length > 0) {
    const jobs = new Set(
      ruleFiles().flatMap(({ spec }) =>
        [...JSON.stringify(spec).matchAll(/job=\\"([^\\"]+)\\"/g)].map((m) => m[1]),
      ),
    );
    for (const job of jobs) {
      const service = named<IService>(ctx, 'Service', job);
      const isApp = K8S_APPS.some((app) => app.name === job);
      if (!service && isApp)
        problems.push(`the alert rules select job="${job}", but no Service ${job} exists`);
      if (
        service &&
        !monitors.some((monitor) => selectorMatches(monitor.spec.selector, service.metadata.labels ?? {}))
      ) {
        problems.push(`the alert rules select job="${job}", but no ServiceMonitor scrapes Service/${job}`);
      }
    }
  }
  return problems;
}

function monitoringProblems(ctx: Context): string[] {
  const problems: string[] = [];
  const rules = ofKind<{ spec?: unknown }>(ctx, 'PrometheusRule');
  const files = ruleFiles();
  for (const { file, spec } of files) {
    const matching = rules.filter((rule) => isDeepStrictEqual(rule.spec, spec));
    if (matching.length !== 1) {
      const source = rules.find((rule) => rule.metadata.annotations?.['reputation-monitor/source'] === file);
      problems.push(
        source
          ? `${objectId(source)} differs from ${file} (the rules promtool tests); run \`npx tsx tools/k8s-checks/src/cli.ts generate\``
          : `no PrometheusRule carries ${file} unchanged`,
      );
    }
  }
  for (const rule of rules) {
    if (
      !files.some(({ spec }) => isDeepStrictEqual(rule.spec, spec)) &&
      !rule.metadata.annotations?.['reputation-monitor/source']
    ) {
      problems.push(`${objectId(rule)} is not one of ${files.map(({ file }) => file).join(', ')}`);
    }
  }
  const maps = ofKind<{ data?: Record<string, string> }>(ctx, 'ConfigMap').filter((map) =>
    selectorMatches({ matchLabels: DASHBOARD_LABEL }, map.metadata.labels ?? {}),
  );
  for (const { file, name, text } of dashboardFiles()) {
    const map = maps.find((each) => each.data?.[name] !== undefined);
    if (!map) problems.push(`no ConfigMap labelled grafana_dashboard=1 holds ${file}`);
    else if (!isDeepStrictEqual(JSON.parse(map.data?.[name] ?? 'null'), JSON.parse(text))) {
      problems.push(
        `${objectId(map)} differs from ${file}; run \`npx tsx tools/k8s-checks/src/cli.ts generate\``,
      );
    }
  }
  return problems;
}

// ---- scaling and disruption ----

function scalingProblems(ctx: Context): string[] {
  const problems: string[] = [];
  const deployment = (name: string) => named<{ spec?: { replicas?: number } }>(ctx, 'Deployment', name);

  const hpa = ofKind<IHorizontalPodAutoscaler>(ctx, 'HorizontalPodAutoscaler').find(
    (each) => each.spec?.scaleTargetRef.kind === 'Deployment' && each.spec.scaleTargetRef.name === GATEWAY,
  );
  if (!hpa) problems.push(`no HorizontalPodAutoscaler scales Deployment/${GATEWAY}`);
  else {
    if (!hpa.spec?.metrics?.some((metric) => metric.type === 'Resource' && metric.resource?.name === 'cpu')) {
      problems.push(`${objectId(hpa)}: the gateway scales on CPU`);
    }
    const min = hpa.spec?.minReplicas ?? 1;
    if (!(min >= 1 && (hpa.spec?.maxReplicas ?? 0) >= min)) {
      problems.push(`${objectId(hpa)}: needs 1 <= minReplicas <= maxReplicas`);
    }
  }

  const scaled = ofKind<IScaledObject>(ctx, 'ScaledObject').find(
    (each) => each.spec?.scaleTargetRef.name === WORKER,
  );
  if (!scaled?.spec) problems.push(`no KEDA ScaledObject scales Deployment/${WORKER}`);
  else {
    const spec = scaled.spec;
    const min = spec.minReplicaCount ?? 0;
    const max = spec.maxReplicaCount ?? 100;
    if (min < 1) {
      problems.push(
        `${objectId(scaled)}: minReplicaCount ${min}; keep at least 1 worker (the gateway is ready only while a worker heartbeat is fresh, so with none nothing is enqueued to scale on)`,
      );
    }
    if (max < min) problems.push(`${objectId(scaled)}: maxReplicaCount is below minReplicaCount`);
    if (spec.fallback && !(spec.fallback.replicas >= min && spec.fallback.replicas <= max)) {
      problems.push(`${objectId(scaled)}: fallback.replicas must lie between min and max`);
    }
    const down = spec.advanced?.horizontalPodAutoscalerConfig?.behavior?.scaleDown;
    if (!((down?.stabilizationWindowSeconds ?? 0) >= 60)) {
      problems.push(
        `${objectId(scaled)}: set behavior.scaleDown.stabilizationWindowSeconds (60 s or more) so a dip does not remove workers`,
      );
    }
    const trigger = spec.triggers?.find((each) => each.type === 'prometheus');
    const query = (trigger?.metadata as Record<string, string> | undefined)?.query ?? '';
    if (!trigger) problems.push(`${objectId(scaled)}: needs the prometheus trigger on sentiment_queue_jobs`);
    else {
      if (!/sentiment_queue_jobs\{[^}]*state=~"waiting\|active"/.test(query)) {
        problems.push(`${objectId(scaled)}: the query must count sentiment_queue_jobs waiting and active`);
      }
      if (!query.includes(`namespace="${ctx.namespace}"`)) {
        problems.push(
          `${objectId(scaled)}: the query must select namespace="${ctx.namespace}" (another deployment's queue is not this one's)`,
        );
      }
      if (!(Number((trigger.metadata as Record<string, string>).threshold) > 0)) {
        problems.push(`${objectId(scaled)}: threshold must be a positive number of jobs per worker`);
      }
    }
  }

  // Autoscaled Deployments leave the count to their autoscaler (an applied count would fight it).
  for (const name of [GATEWAY, WORKER]) {
    if (deployment(name)?.spec?.replicas !== undefined) {
      problems.push(`Deployment/${name}: remove spec.replicas; its autoscaler owns the count`);
    }
  }
  const drift = deployment(DRIFT_MONITOR)?.spec?.replicas ?? 1;
  if (drift < 2) problems.push(`Deployment/${DRIFT_MONITOR}: run 2 replicas (the run lease makes it safe)`);
  return problems;
}

function disruptionProblems(ctx: Context): string[] {
  const budgets = ofKind<IPodDisruptionBudget>(ctx, 'PodDisruptionBudget');
  return K8S_APPS.flatMap((app) => {
    const pod = appTemplate(ctx, app);
    if (!pod) return [];
    const covering = budgets.filter((budget) =>
      selectorMatches(budget.spec?.selector as ILabelSelector, pod.labels),
    );
    return covering.length === 1
      ? []
      : [`${objectId(pod.owner)}: needs exactly one PodDisruptionBudget (found ${covering.length})`];
  });
}

// ---- the Ingress ----

function bytes(size: string | undefined): number | undefined {
  const match = /^(\d+)([kmg]?)$/i.exec(size ?? '');
  if (!match) return undefined;
  return (
    Number(match[1]) *
    { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g']
  );
}

function ingressProblems(ctx: Context): string[] {
  const gatewayApp = appNamed(GATEWAY);
  const env = envLookup(appContainer(appTemplate(ctx, gatewayApp), gatewayApp), schemaOf(ctx, gatewayApp));
  const problems: string[] = [];
  const ingresses = ofKind<IIngress>(ctx, 'Ingress');
  if (ingresses.length === 0) problems.push(`no Ingress routes to the gateway`);
  for (const ingress of ingresses) {
    if (!ingress.spec?.tls?.length) problems.push(`${objectId(ingress)}: needs tls`);
    for (const rule of ingress.spec?.rules ?? []) {
      for (const path of rule.http?.paths ?? []) {
        const service = path.backend.service;
        if (service?.name !== GATEWAY)
          problems.push(
            `${objectId(ingress)}: ${path.path} routes to ${service?.name}; only the gateway faces clients`,
          );
        const exposes = ['/metrics', '/health'].find(
          (internal) =>
            path.path === '/' ||
            path.path === undefined ||
            internal.startsWith(path.path) ||
            path.path.startsWith(internal),
        );
        if (exposes)
          problems.push(
            `${objectId(ingress)}: path ${path.path ?? '(all)'} exposes ${exposes}, which has no authentication`,
          );
      }
    }
    const annotations = ingress.metadata.annotations ?? {};
    const body = bytes(annotations['nginx.ingress.kubernetes.io/proxy-body-size']);
    const maxBody = Number(env('MAX_BODY_BYTES'));
    if (!(body !== undefined && body >= maxBody)) {
      problems.push(`${objectId(ingress)}: proxy-body-size must admit MAX_BODY_BYTES=${maxBody}`);
    }
    const timeout = Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']);
    if (!(timeout * 1000 > Number(env('SYNC_TIMEOUT_MS')))) {
      problems.push(
        `${objectId(ingress)}: proxy-read-timeout must exceed SYNC_TIMEOUT_MS=${env('SYNC_TIMEOUT_MS')}`,
      );
    }
  }
  return problems;
}

// ---- who may reach whom ----

const EXTERNAL = {
  ingressController: {
    kind: 'pod',
    name: 'the Ingress controller',
    namespace: 'ingress-nginx',
    namespaceLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' },
    labels: { 'app.kubernetes.io/name': 'ingress-nginx' },
  },
  prometheus: {
    kind: 'pod',
    name: 'Prometheus',
    namespace: 'monitoring',
    namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring' },
    labels: { 'app.kubernetes.io/name': 'prometheus' },
  },
  otherNamespace: {
    kind: 'pod',
    name: 'a pod of namespace default',
    namespace: 'default',
    namespaceLabels: { 'kubernetes.io/metadata.name': 'default' },
    labels: { 'app.kubernetes.io/name': 'gateway' },
  },
  dns: {
    kind: 'pod',
    name: 'cluster DNS',
    namespace: 'kube-system',
    namespaceLabels: { 'kubernetes.io/metadata.name': 'kube-system' },
    labels: { 'k8s-app': 'kube-dns' },
  },
  internet: { kind: 'address', name: 'an address on the internet', ip: '203.0.113.7' },
} satisfies Record<string, Peer>;

function podPeer(ctx: Context, pod: PodTemplate, name: string): PodPeer {
  const ports = Object.fromEntries(
    allContainers(pod).flatMap((c) =>
      (c.ports ?? []).flatMap((p) => (p.name ? [[p.name, p.containerPort]] : [])),
    ),
  );
  return {
    kind: 'pod',
    name,
    namespace: ctx.namespace,
    namespaceLabels: { 'kubernetes.io/metadata.name': ctx.namespace },
    labels: pod.labels,
    ports,
  };
}

export interface NetworkExpectation {
  connection: Connection;
  allow: boolean;
}

/**
 * The connections the manifests promise, and whether each must be allowed. An allowed one must pass both the
 * source's egress and the destination's ingress; a blocked one into the namespace must be refused by the
 * destination's own ingress policy (not only by the source's egress), a blocked one out of it by the egress.
 */
export function networkExpectations(ctx: Context): NetworkExpectation[] {
  const expectations: NetworkExpectation[] = [];
  const expect = (from: Peer, to: Peer, port: number, allow: boolean, protocol?: 'UDP') =>
    expectations.push({ connection: { from, to, port, protocol }, allow });
  const stranger: PodPeer = {
    kind: 'pod',
    name: 'another pod of the namespace',
    namespace: ctx.namespace,
    namespaceLabels: { 'kubernetes.io/metadata.name': ctx.namespace },
    labels: { 'app.kubernetes.io/name': 'debug' },
  };
  const apps = K8S_APPS.flatMap((app) => {
    const pod = appTemplate(ctx, app);
    const container = appContainer(pod, app);
    if (!pod || !container) return [];
    const port = Number(envLookup(container, schemaOf(ctx, app))(app.portVariable));
    return [{ app, peer: podPeer(ctx, pod, app.name), port }];
  });
  for (const { app, peer, port } of apps) {
    expect(EXTERNAL.ingressController, peer, port, app.name === GATEWAY);
    expect(EXTERNAL.prometheus, peer, port, true);
    expect(EXTERNAL.otherNamespace, peer, port, false);
    expect(EXTERNAL.internet, peer, port, false);
    expect(stranger, peer, port, false);
    expect(peer, EXTERNAL.dns, 53, true, 'UDP');
    expect(peer, EXTERNAL.internet, 443, true);
    expect(peer, EXTERNAL.internet, 22, false);
    for (const other of apps)
      if (other !== apps.find((each) => each.app === app)) expect(peer, other.peer, other.port, false);
  }
  // Redis: in the cluster (a StatefulSet named redis) or a managed one at the addresses the apps may reach.
  const redisPod = podTemplates(ctx).find(
    (pod) => pod.owner.kind === 'StatefulSet' && pod.owner.metadata.name === 'redis',
  );
  const redisCidr = ofKind<{
    spec?: { egress?: { to?: { ipBlock?: { cidr: string } }[]; ports?: { port?: number }[] }[] };
  }>(ctx, 'NetworkPolicy')
    .flatMap((policy) => policy.spec?.egress ?? [])
    .find((rule) => rule.ports?.some((port) => port.port === 6379) && rule.to?.some((peer) => peer.ipBlock))
    ?.to?.find((peer) => peer.ipBlock)?.ipBlock?.cidr;
  const redis: Peer | undefined = redisPod
    ? podPeer(ctx, redisPod, 'Redis')
    : redisCidr
      ? { kind: 'address', name: `the managed Redis (${redisCidr})`, ip: firstAddress(redisCidr) }
      : undefined;
  if (!redis) return expectations;
  for (const { peer } of apps) expect(peer, redis, 6379, true);
  expect(stranger, redis, 6379, false);
  if (redisPod) {
    expect(EXTERNAL.prometheus, redis, 6379, false);
    expect(EXTERNAL.ingressController, redis, 6379, false);
    expect(EXTERNAL.otherNamespace, redis, 6379, false);
    expect(EXTERNAL.prometheus, redis, 9121, true);
  }
  return expectations;
}

function networkProblems(ctx: Context): string[] {
  const problems: string[] = [];
  const denyAll = ofKind<{
    spec?: { podSelector?: ILabelSelector; policyTypes?: string[]; ingress?: unknown; egress?: unknown };
  }>(ctx, 'NetworkPolicy').some(
    (policy) =>
      Object.keys(policy.spec?.podSelector ?? {}).length === 0 &&
      ['Ingress', 'Egress'].every((type) => policy.spec?.policyTypes?.includes(type)) &&
      !policy.spec?.ingress &&
      !policy.spec?.egress,
  );
  if (!denyAll) problems.push('no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)');
  if (!networkExpectations(ctx).some(({ connection }) => connection.port === 6379)) {
    problems.push(
      'NetworkPolicy: the apps have no path to Redis: run it in the namespace (a StatefulSet redis) or allow egress ' +
        'to the managed Redis (an ipBlock on port 6379)',
    );
  }
  for (const { connection, allow } of networkExpectations(ctx)) {
    const sides = verdict(ctx.objects, connection);
    const inside = connection.to.kind === 'pod' && connection.to.namespace === ctx.namespace;
    const through = allow ? allowed(ctx.objects, connection) : inside ? sides.ingress : sides.egress;
    if (through !== allow) {
      problems.push(
        `NetworkPolicy: ${describeConnection(connection)} is ${allow ? 'blocked' : 'allowed'}; it must be ${allow ? 'allowed' : 'blocked'}`,
      );
    }
  }
  return problems;
}

// ---- all of it ----

const RULES: ((ctx: Context) => string[])[] = [
  namespaceProblems,
  imageProblems,
  credentialProblems,
  referenceProblems,
  resourceProblems,
  (ctx) => K8S_APPS.flatMap((app) => appProblems(ctx, app)),
  workerProblems,
  queuePrefixProblems,
  serviceProblems,
  monitoringProblems,
  scalingProblems,
  disruptionProblems,
  ingressProblems,
  networkProblems,
];

export function contextOf(objects: readonly K8sObject[], schemas: AppSchemas): Context {
  const namespace =
    objects.find((object) => object.kind === 'Namespace')?.metadata.name ??
    objects.find((object) => object.metadata.namespace)?.metadata.namespace ??
    'default';
  return { objects, schemas, namespace };
}

/** Every problem of these rendered objects: their schemas, then the project's rules. */
export function validateObjects(objects: readonly K8sObject[], schemas: AppSchemas = appSchemas()): string[] {
  const ctx = contextOf(objects, schemas);
  return [...schemaProblems(objects), ...RULES.flatMap((rule) => rule(ctx))];
}

export function validateOverlay(overlay: string): string[] {
  return validateObjects(renderOverlay(overlay));
}
