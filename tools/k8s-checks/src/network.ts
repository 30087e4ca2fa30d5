/**
 * Evaluates NetworkPolicies the way the API defines them, for the connections the manifests promise: a
 * connection is allowed when the source's egress allows it (or no egress policy selects the source) and the
 * destination's ingress allows it (or no ingress policy selects the destination). Pods outside the namespace
 * and addresses outside the cluster are peers the tests name; their own namespace's policies are not modelled.
 */
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import type { INetworkPolicyPort } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPort';
import type { ILabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import { K8sObject } from './yaml';

export type Labels = Record<string, string>;

export interface PodPeer {
  kind: 'pod';
  /** For messages. */
  name: string;
  namespace: string;
  namespaceLabels: Labels;
  labels: Labels;
  /** Named container ports, for policies that name them. */
  ports?: Record<string, number>;
}

export interface AddressPeer {
  kind: 'address';
  name: string;
  ip: string;
}

export type Peer = PodPeer | AddressPeer;

export interface Connection {
  from: Peer;
  to: Peer;
  port: number;
  protocol?: 'TCP' | 'UDP';
}

export function selectorMatches(selector: ILabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const expression of selector.matchExpressions ?? []) {
    const value = labels[expression.key];
    const values = expression.values ?? [];
    switch (expression.operator) {
      case 'In':
        if (value === undefined || !values.includes(value)) return false;
        break;
      case 'NotIn':
        if (value !== undefined && values.includes(value)) return false;
        break;
      case 'Exists':
        if (value === undefined) return false;
        break;
      case 'DoesNotExist':
        if (value !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

function ipToNumber(ip: string): number {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !(part >= 0 && part <= 255))) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bits] = cidr.split('/');
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
  return (ipToNumber(base) & mask) >>> 0 === (ipToNumber(ip) & mask) >>> 0;
}

/** The first usable address of a CIDR (the test's stand-in for a host in it). */
export function firstAddress(cidr: string): string {
  const [base, bits] = cidr.split('/');
  const number = ipToNumber(base) + (Number(bits) >= 31 ? 0 : 1);
  return [24, 16, 8, 0].map((shift) => (number >>> shift) & 255).join('.');
}

function peerMatches(peer: INetworkPolicyPeer, other: Peer, policyNamespace: string): boolean {
  if (peer.ipBlock) {
    if (other.kind !== 'address') return false;
    return (
      cidrContains(peer.ipBlock.cidr, other.ip) &&
      !(peer.ipBlock.except ?? []).some((except) => cidrContains(except, other.ip))
    );
  }
  if (other.kind !== 'pod') return false;
  const namespaceOk = peer.namespaceSelector
    ? selectorMatches(peer.namespaceSelector, other.namespaceLabels)
    : other.namespace === policyNamespace;
  return namespaceOk && selectorMatches(peer.podSelector, other.labels);
}

function portMatches(rule: { ports?: INetworkPolicyPort[] }, connection: Connection, target: Peer): boolean {
  const list = rule.ports;
  if (!list || list.length === 0) return true;
  const protocol = connection.protocol ?? 'TCP';
  return list.some((entry) => {
    if ((entry.protocol ?? 'TCP') !== protocol) return false;
    if (entry.port === undefined) return true;
    const number =
      typeof entry.port === 'number'
        ? entry.port
        : target.kind === 'pod'
          ? target.ports?.[entry.port]
          : undefined;
    if (number === undefined) return false;
    return entry.endPort
      ? connection.port >= number && connection.port <= entry.endPort
      : connection.port === number;
  });
}

const policiesOf = (objects: readonly K8sObject[]) =>
  objects.filter((object) => object.kind === 'NetworkPolicy') as unknown as (INetworkPolicy & K8sObject)[];

const types = (policy: INetworkPolicy) =>
  policy.spec?.policyTypes ?? (policy.spec?.egress ? ['Ingress', 'Egress'] : ['Ingress']);

function selects(policy: INetworkPolicy & K8sObject, peer: Peer): peer is PodPeer {
  return (
    peer.kind === 'pod' &&
    peer.namespace === policy.metadata.namespace &&
    selectorMatches(policy.spec?.podSelector, peer.labels)
  );
}

/** Whether the source's egress policies and the destination's ingress policies each let the connection through. */
export function verdict(
  objects: readonly K8sObject[],
  connection: Connection,
): { egress: boolean; ingress: boolean } {
  const policies = policiesOf(objects);
  const egress = policies.filter(
    (policy) => types(policy).includes('Egress') && selects(policy, connection.from),
  );
  const egressOk =
    egress.length === 0 ||
    egress.some((policy) =>
      (policy.spec?.egress ?? []).some(
        (rule) =>
          portMatches(rule, connection, connection.to) &&
          (!rule.to ||
            rule.to.length === 0 ||
            rule.to.some((peer) => peerMatches(peer, connection.to, policy.metadata.namespace ?? ''))),
      ),
    );
  const ingress = policies.filter(
    (policy) => types(policy).includes('Ingress') && selects(policy, connection.to),
  );
  const ingressOk =
    ingress.length === 0 ||
    ingress.some((policy) =>
      (policy.spec?.ingress ?? []).some(
        (rule) =>
          portMatches(rule, connection, connection.to) &&
          (!rule.from ||
            rule.from.length === 0 ||
            rule.from.some((peer) => peerMatches(peer, connection.from, policy.metadata.namespace ?? ''))),
      ),
    );
  return { egress: egressOk, ingress: ingressOk };
}

/** Whether the namespace's NetworkPolicies let this connection through (both sides). */
export function allowed(objects: readonly K8sObject[], connection: Connection): boolean {
  const { egress, ingress } = verdict(objects, connection);
  return egress && ingress;
}

export function describeConnection(connection: Connection): string {
  return `${connection.from.name} -> ${connection.to.name}:${connection.port}/${connection.protocol ?? 'TCP'}`;
}
