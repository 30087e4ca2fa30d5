/**
 * Renders a kustomization the way `kubectl kustomize` does, for the subset deploy/kubernetes uses, so the
 * manifests can be validated where no kubectl or kustomize binary exists. Anything outside the subset is an
 * error, never silently ignored: a kustomization that renders here renders the same with kustomize.
 *
 * Supported: `resources` (files under the kustomization's folder, or folders with a kustomization),
 * `components` (kind: Component), `namespace`, `images` (newName, newTag, digest) and `patches` (a file or an
 * inline patch: a JSON 6902 list of add/remove/replace/test with a `target`, or a strategic-merge patch naming
 * its target by kind and name; see `strategicMerge`). Transformers run in kustomize's order: patches, namespace,
 * images.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { asK8sObject, clone, isRecord, objectId, K8sObject, parseYaml, parseYamlDocuments } from './yaml';

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED_FIELDS = new Set([
  'apiVersion',
  'kind',
  'resources',
  'components',
  'namespace',
  'images',
  'patches',
]);

interface ImageRule {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
}

interface PatchRule {
  path?: string;
  patch?: string;
  target?: PatchTarget;
}

interface Kustomization {
  apiVersion?: string;
  kind?: 'Kustomization' | 'Component';
  resources?: string[];
  components?: string[];
  namespace?: string;
  images?: ImageRule[];
  patches?: PatchRule[];
}

/** Kinds kustomize never puts in a namespace (the ones deploy/kubernetes could meet). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'ClusterTriggerAuthentication',
]);

export class KustomizeError extends Error {}

function kustomizationFile(dir: string): string {
  for (const name of KUSTOMIZATION_FILES) {
    const file = join(dir, name);
    if (existsSync(file)) return file;
  }
  throw new KustomizeError(`${dir} has no kustomization.yaml`);
}

function readKustomization(dir: string, expectedKind: 'Kustomization' | 'Component'): Kustomization {
  const file = kustomizationFile(dir);
  const content = parseYaml<Kustomization>(readFileSync(file, 'utf8'), file);
  if (!isRecord(content)) throw new KustomizeError(`${file} is not a mapping`);
  const unsupported = Object.keys(content).filter((key) => !SUPPORTED_FIELDS.has(key));
  if (unsupported.length > 0) {
    throw new KustomizeError(
      `${file} uses ${unsupported.join(', ')}, which this renderer does not implement ` +
        `(supported: ${[...SUPPORTED_FIELDS].join(', ')})`,
    );
  }
  const kind = content.kind ?? 'Kustomization';
  if (kind !== expectedKind) throw new KustomizeError(`${file} is a ${kind}, expected a ${expectedKind}`);
  return content;
}

/** kustomize's default load restrictor: files must lie inside the kustomization's own folder. */
function fileInside(dir: string, path: string, what: string): string {
  const file = resolve(dir, path);
  const rel = relative(dir, file);
  if (rel.startsWith('..') || rel.startsWith(sep) || rel === '') {
    throw new KustomizeError(`${what} ${path} is outside ${dir} (kustomize refuses files outside the root)`);
  }
  return file;
}

function loadResource(dir: string, path: string): K8sObject[] {
  const target = resolve(dir, path);
  if (!existsSync(target)) throw new KustomizeError(`resource ${path} of ${dir} does not exist`);
  if (statSync(target).isDirectory()) return renderKustomization(target);
  const file = fileInside(dir, path, 'resource');
  return parseYamlDocuments(readFileSync(file, 'utf8'), file).map((document, index) =>
    asK8sObject(document, `${file} document ${index + 1}`),
  );
}

/** Renders the kustomization in `dir` (an absolute or workspace-relative folder). */
export function renderKustomization(dir: string): K8sObject[] {
  const root = resolve(dir);
  const kustomization = readKustomization(root, 'Kustomization');
  let objects = (kustomization.resources ?? []).flatMap((path) => loadResource(root, path));
  for (const component of kustomization.components ?? []) {
    objects = applyComponent(resolve(root, component), objects);
  }
  return transform(root, kustomization, objects);
}

function applyComponent(dir: string, accumulated: K8sObject[]): K8sObject[] {
  const component = readKustomization(dir, 'Component');
  let objects = [...accumulated, ...(component.resources ?? []).flatMap((path) => loadResource(dir, path))];
  for (const nested of component.components ?? []) objects = applyComponent(resolve(dir, nested), objects);
  return transform(dir, component, objects);
}

function transform(dir: string, kustomization: Kustomization, input: K8sObject[]): K8sObject[] {
  let objects = input.map(clone);
  for (const rule of kustomization.patches ?? []) objects = applyPatchRule(dir, rule, objects);
  const namespace = kustomization.namespace;
  if (namespace) objects = objects.map((o) => withNamespace(o, namespace));
  for (const rule of kustomization.images ?? []) objects.forEach((object) => applyImageRule(rule, object));
  assertUnique(objects);
  return objects;
}

function assertUnique(objects: K8sObject[]): void {
  const seen = new Set<string>();
  for (const object of objects) {
    const id = `${object.apiVersion}|${object.kind}|${object.metadata.namespace ?? ''}|${object.metadata.name}`;
    if (seen.has(id)) throw new KustomizeError(`${objectId(object)} is defined twice`);
    seen.add(id);
  }
}

function withNamespace(object: K8sObject, namespace: string): K8sObject {
  if (object.kind === 'Namespace') {
    // kustomize may rename a Namespace object to the kustomization's namespace; keep the two equal instead.
    if (object.metadata.name !== namespace) {
      throw new KustomizeError(`Namespace/${object.metadata.name} differs from the namespace ${namespace}`);
    }
    return object;
  }
  if (CLUSTER_SCOPED.has(object.kind)) return object;
  return { ...object, metadata: { ...object.metadata, namespace } };
}

// ---- images ----

/** Splits `name[:tag][@digest]` (a registry port's colon is not a tag). */
export function splitImage(reference: string): { name: string; tag?: string; digest?: string } {
  const [withTag, digest] = reference.split('@', 2);
  const slash = withTag.lastIndexOf('/');
  const colon = withTag.lastIndexOf(':');
  if (colon > slash) return { name: withTag.slice(0, colon), tag: withTag.slice(colon + 1), digest };
  return { name: withTag, digest };
}

function applyImageRule(rule: ImageRule, object: K8sObject): void {
  for (const container of podContainers(object)) {
    if (typeof container.image !== 'string') continue;
    const image = splitImage(container.image);
    if (image.name !== rule.name) continue;
    const name = rule.newName ?? image.name;
    if (rule.digest) container.image = `${name}@${rule.digest}`;
    else {
      const tag = rule.newTag ?? image.tag;
      container.image = `${name}${tag ? `:${tag}` : ''}${image.digest ? `@${image.digest}` : ''}`;
    }
  }
}

/** The containers and init containers of any object holding a pod template (or a pod). */
export function podContainers(object: K8sObject): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (isRecord(value)) {
      for (const [key, child] of Object.entries(value)) {
        if ((key === 'containers' || key === 'initContainers') && Array.isArray(child)) {
          found.push(...child.filter(isRecord));
        } else visit(child);
      }
    }
  };
  visit(object);
  return found;
}

// ---- patches ----

function applyPatchRule(dir: string, rule: PatchRule, objects: K8sObject[]): K8sObject[] {
  if ((rule.path === undefined) === (rule.patch === undefined)) {
    throw new KustomizeError(`a patch of ${dir} needs exactly one of path and patch`);
  }
  const what = rule.path ? fileInside(dir, rule.path, 'patch') : `inline patch in ${dir}`;
  const text = rule.path ? readFileSync(what, 'utf8') : (rule.patch ?? '');
  const documents = parseYamlDocuments(text, what);
  if (documents.length !== 1) throw new KustomizeError(`${what}: one patch per file or inline patch`);
  const patch = documents[0];
  if (Array.isArray(patch)) {
    const jsonTarget = rule.target;
    if (!jsonTarget) throw new KustomizeError(`${what}: a JSON 6902 patch needs a target`);
    const targets = objects.filter((object) => matchesTarget(object, jsonTarget));
    if (targets.length === 0) throw new KustomizeError(`${what}: no object matches its target`);
    return objects.map((object) =>
      targets.includes(object) ? asK8sObject(applyJson6902(object, patch, what), what) : object,
    );
  }
  const patchObject = asK8sObject(patch, what);
  const target: PatchTarget = rule.target ?? {
    kind: patchObject.kind,
    name: patchObject.metadata.name,
    ...splitApiVersion(patchObject.apiVersion),
  };
  const targets = objects.filter((object) => matchesTarget(object, target));
  if (targets.length === 0)
    throw new KustomizeError(`${what}: no object matches ${target.kind}/${target.name}`);
  return objects.map((object) => {
    if (!targets.includes(object)) return object;
    // The patch's apiVersion and kind name its target; its metadata merges like the rest.
    const body: Record<string, unknown> = {
      ...patchObject,
      metadata: { ...patchObject.metadata, name: object.metadata.name },
    };
    delete body.apiVersion;
    delete body.kind;
    const merged = strategicMerge(object, body, isBuiltIn(object.apiVersion), []);
    return asK8sObject(merged, what);
  });
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function matchesTarget(object: K8sObject, target: PatchTarget): boolean {
  const { group, version } = splitApiVersion(object.apiVersion);
  if (target.kind !== undefined && target.kind !== object.kind) return false;
  if (target.name !== undefined && target.name !== object.metadata.name) return false;
  if (target.group !== undefined && target.group !== group) return false;
  if (target.version !== undefined && target.version !== version) return false;
  return true;
}

/** Built-in API groups: their lists merge by key in a strategic merge; custom resources' lists are replaced. */
function isBuiltIn(apiVersion: string): boolean {
  const { group } = splitApiVersion(apiVersion);
  return group === '' || !group.includes('.') || group.endsWith('.k8s.io');
}

/**
 * The merge key of a list in a built-in kind, by the list's field name and its parent's: the
 * `patchMergeKey`s of the Kubernetes API for the lists a pod template and a Service hold.
 */
function mergeKey(path: string[]): string | undefined {
  const field = path[path.length - 1];
  const parent = path[path.length - 2];
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'ports':
      return parent === 'spec' ? 'port' : 'containerPort';
    default:
      return undefined;
  }
}

/**
 * A strategic merge patch, as kustomize applies it: maps merge key by key (null deletes), lists with a merge
 * key merge item by item (new items appended), other lists are replaced. Directives ($patch, $retainKeys, …)
 * are not implemented and throw.
 */
export function strategicMerge(original: unknown, patch: unknown, builtIn: boolean, path: string[]): unknown {
  if (isRecord(patch)) {
    const directive = Object.keys(patch).find((key) => key.startsWith('$'));
    if (directive) throw new KustomizeError(`strategic-merge directive ${directive} is not implemented`);
    const result: Record<string, unknown> = isRecord(original) ? { ...original } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete result[key];
      else result[key] = strategicMerge(result[key], value, builtIn, [...path, key]);
    }
    return result;
  }
  if (Array.isArray(patch)) {
    const key = builtIn ? mergeKey(path) : undefined;
    if (!key || !Array.isArray(original)) return clone(patch);
    const result = [...original];
    for (const item of patch) {
      if (!isRecord(item) || item[key] === undefined)
        throw new KustomizeError(`${path.join('.')}: items need ${key}`);
      const index = result.findIndex((existing) => isRecord(existing) && existing[key] === item[key]);
      if (index < 0) result.push(clone(item));
      else result[index] = strategicMerge(result[index], item, builtIn, path);
    }
    return result;
  }
  return patch;
}

// ---- JSON 6902 ----

interface Operation {
  op: string;
  path: string;
  value?: unknown;
}

function pointer(path: string, what: string): string[] {
  if (!path.startsWith('/')) throw new KustomizeError(`${what}: JSON pointer ${path} must start with /`);
  return path
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Applies add, remove, replace and test operations (RFC 6902) to a copy of the document. */
export function applyJson6902(document: unknown, operations: unknown[], what: string): unknown {
  const result = clone(document);
  for (const raw of operations) {
    if (!isRecord(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') {
      throw new KustomizeError(`${what}: every operation needs op and path`);
    }
    const operation = raw as unknown as Operation;
    const tokens = pointer(operation.path, what);
    const last = tokens.pop() ?? '';
    let parent: unknown = result;
    for (const token of tokens) {
      parent = Array.isArray(parent) ? parent[Number(token)] : isRecord(parent) ? parent[token] : undefined;
      if (parent === undefined) throw new KustomizeError(`${what}: ${operation.path} does not exist`);
    }
    const fail = (why: string) => new KustomizeError(`${what}: ${operation.op} ${operation.path}: ${why}`);
    const exists = Array.isArray(parent)
      ? /^\d+$/.test(last) && Number(last) < parent.length
      : isRecord(parent) && Object.hasOwn(parent, last);
    switch (operation.op) {
      case 'test': {
        const current = Array.isArray(parent)
          ? parent[Number(last)]
          : (parent as Record<string, unknown>)[last];
        if (!exists || JSON.stringify(current) !== JSON.stringify(operation.value)) {
          throw fail(`expected ${JSON.stringify(operation.value)}, found ${JSON.stringify(current)}`);
        }
        break;
      }
      case 'add':
        if (Array.isArray(parent)) {
          const index = last === '-' ? parent.length : Number(last);
          if (!(index >= 0 && index <= parent.length)) throw fail('index out of range');
          parent.splice(index, 0, clone(operation.value));
        } else (parent as Record<string, unknown>)[last] = clone(operation.value);
        break;
      case 'replace':
        if (!exists) throw fail('nothing to replace');
        if (Array.isArray(parent)) parent[Number(last)] = clone(operation.value);
        else (parent as Record<string, unknown>)[last] = clone(operation.value);
        break;
      case 'remove':
        if (!exists) throw fail('nothing to remove');
        if (Array.isArray(parent)) parent.splice(Number(last), 1);
        else delete (parent as Record<string, unknown>)[last];
        break;
      default:
        throw fail('only add, remove, replace and test are implemented');
    }
  }
  return result;
}

/** Kinds first that others depend on, the way kustomize orders its output; stable within a kind. */
const KIND_ORDER = ['Namespace', 'Secret', 'ConfigMap', 'Service', 'StatefulSet', 'Deployment'];

export function sortForApply(objects: K8sObject[]): K8sObject[] {
  const rank = (object: K8sObject) => {
    const index = KIND_ORDER.indexOf(object.kind);
    return index < 0 ? KIND_ORDER.length : index;
  };
  return objects
    .map((object, index) => ({ object, index }))
    .sort((a, b) => rank(a.object) - rank(b.object) || a.index - b.index)
    .map(({ object }) => object);
}

export const overlayDir = (k8sRoot: string, overlay: string) => join(k8sRoot, 'overlays', overlay);
