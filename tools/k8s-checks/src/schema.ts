/**
 * Each rendered object against its kind's OpenAPI schema: Kubernetes' own (kubernetes-models) and the CRDs' of
 * KEDA and Prometheus Operator (@kubernetes-models/keda, @kubernetes-models/prometheus-operator). A kind without
 * a schema here is itself a problem, so nothing goes unvalidated.
 */
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import {
  PodMonitor,
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { K8sObject, objectId } from './yaml';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: never) => Validatable;

const MODELS: Record<string, ModelClass> = {
  'v1|Namespace': Namespace,
  'v1|Service': Service,
  'v1|ConfigMap': ConfigMap,
  'v1|Secret': Secret,
  'apps/v1|Deployment': Deployment,
  'apps/v1|StatefulSet': StatefulSet,
  'autoscaling/v2|HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1|PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1|Ingress': Ingress,
  'networking.k8s.io/v1|NetworkPolicy': NetworkPolicy,
  'keda.sh/v1alpha1|ScaledObject': ScaledObject,
  'keda.sh/v1alpha1|TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1|ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1|PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1|PrometheusRule': PrometheusRule,
};

export function schemaProblems(objects: readonly K8sObject[]): string[] {
  return objects.flatMap((object) => {
    const Model = MODELS[`${object.apiVersion}|${object.kind}`];
    if (!Model) return [`${objectId(object)}: no schema for ${object.apiVersion} ${object.kind}`];
    try {
      new Model(object as never).validate();
      return [];
    } catch (error) {
      return [`${objectId(object)}: schema: ${(error as Error).message}`];
    }
  });
}
