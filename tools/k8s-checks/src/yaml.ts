import { parseAllDocuments, parseDocument, stringify } from 'yaml';

/**
 * YAML 1.1, as Kubernetes reads manifests (sigs.k8s.io/yaml) and Prometheus its rules: an unquoted `on`, `yes` or
 * `off` is a boolean there, so it is one here too, and the schemas catch it where a string belongs.
 */
const YAML_VERSION = '1.1' as const;

/** Serializes for kubectl: YAML 1.1 quoting (`'on'` stays a string), no line folding. */
export function toYaml(value: unknown): string {
  return stringify(value, {
    version: YAML_VERSION,
    lineWidth: 0,
    singleQuote: true,
    aliasDuplicateObjects: false,
  });
}

/** A Kubernetes object as rendered: apiVersion, kind and metadata at least; the rest is the kind's own. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses one YAML document (duplicate keys are errors); throws with every parse error named. */
export function parseYaml<T = unknown>(text: string, what: string): T {
  const document = parseDocument(text, { merge: true, version: YAML_VERSION });
  if (document.errors.length > 0) {
    throw new Error(`${what} is not valid YAML:\n  ${document.errors.map((e) => e.message).join('\n  ')}`);
  }
  return document.toJS() as T;
}

/** Every document of a multi-document YAML file (empty documents skipped). */
export function parseYamlDocuments(text: string, what: string): unknown[] {
  const documents = parseAllDocuments(text, { merge: true, version: YAML_VERSION });
  const errors = documents.flatMap((document) => document.errors.map((error) => error.message));
  if (errors.length > 0) throw new Error(`${what} is not valid YAML:\n  ${errors.join('\n  ')}`);
  return documents
    .map((document) => document.toJS())
    .filter((value) => value !== null && value !== undefined);
}

/** The object as a Kubernetes object, or an error naming what is missing. */
export function asK8sObject(value: unknown, what: string): K8sObject {
  if (
    !isRecord(value) ||
    typeof value.apiVersion !== 'string' ||
    typeof value.kind !== 'string' ||
    !isRecord(value.metadata) ||
    typeof value.metadata.name !== 'string'
  ) {
    throw new Error(`${what}: every document must have apiVersion, kind and metadata.name`);
  }
  return value as K8sObject;
}

export const objectId = (object: K8sObject): string => `${object.kind}/${object.metadata.name}`;

/**
 * A deep copy (rendered objects are plain JSON). Not structuredClone: under Jest its copies carry another realm's
 * Object.prototype, which deep-equality checks then tell apart from the files' parsed objects.
 */
export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}
