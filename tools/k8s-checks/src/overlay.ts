import { renderKustomization, sortForApply } from './kustomize';
import { K8S_ROOT, Overlay, workspacePath } from './workspace';
import { K8sObject } from './yaml';

/** The overlay's manifests, rendered as `kubectl kustomize` renders them, in apply order. */
export function renderOverlay(overlay: Overlay | string): K8sObject[] {
  return sortForApply(renderKustomization(workspacePath(`${K8S_ROOT}/overlays/${overlay}`)));
}
