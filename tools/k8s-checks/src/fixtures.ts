/** The rendered overlays, once per test file, and helpers to break a copy of them. */
import { appSchemas } from './env-schema';
import { renderOverlay } from './overlay';
import { validateObjects } from './validate';
import { Overlay } from './workspace';
import { clone, isRecord, K8sObject } from './yaml';

const rendered = new Map<string, K8sObject[]>();

export function overlayObjects(overlay: Overlay): K8sObject[] {
  if (!rendered.has(overlay)) rendered.set(overlay, renderOverlay(overlay));
  return clone(rendered.get(overlay) ?? []);
}

/** The object of this kind and name in the list (throws when absent, so a mutation cannot miss). */
export function find<T = Record<string, unknown>>(
  objects: K8sObject[],
  kind: string,
  name: string,
): T & K8sObject {
  const object = objects.find((each) => each.kind === kind && each.metadata.name === name);
  if (!object) throw new Error(`${kind}/${name} is not in the rendered objects`);
  return object as T & K8sObject;
}

/** A container of a workload's pod template (init containers included). */
export function container(objects: K8sObject[], kind: string, name: string, containerName = name) {
  const spec = (find(objects, kind, name).spec as { template: { spec: Record<string, unknown> } }).template
    .spec;
  const all = [...((spec.initContainers as unknown[]) ?? []), ...((spec.containers as unknown[]) ?? [])];
  const found = all.find((each) => isRecord(each) && each.name === containerName);
  if (!found) throw new Error(`${kind}/${name} has no container ${containerName}`);
  return found as Record<string, unknown> & {
    env: {
      name: string;
      value?: string;
      valueFrom?: { secretKeyRef: Record<string, unknown> } & Record<string, unknown>;
    }[];
    [key: string]: unknown;
  };
}

export function envEntry(
  objects: K8sObject[],
  kind: string,
  name: string,
  variable: string,
  containerName = name,
) {
  const entry = container(objects, kind, name, containerName).env.find((each) => each.name === variable);
  if (!entry) throw new Error(`${kind}/${name} ${containerName} does not set ${variable}`);
  return entry;
}

/** Validates the objects after `mutate` changed a copy; the app schemas are read once per process. */
export function problemsAfter(overlay: Overlay, mutate: (objects: K8sObject[]) => void): string[] {
  const objects = overlayObjects(overlay);
  mutate(objects);
  return validateObjects(objects, appSchemas());
}
