import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export const ROOT = resolve(__dirname, '../../..');
export const MONITORING = join(ROOT, 'monitoring');
export const DASHBOARDS_DIR = join(MONITORING, 'grafana/dashboards');
export const RULES_DIR = join(MONITORING, 'prometheus/rules');
export const DATASOURCES_FILE = join(MONITORING, 'grafana/provisioning/datasources/prometheus.yml');

export interface NamedQuery {
  /** Where the query comes from, e.g. `serving.json: Queue depth by state [A]`. */
  source: string;
  expr: string;
}

interface Panel {
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Array<{ refId?: string; expr?: string; datasource?: { uid?: string } }>;
  panels?: Panel[];
}

/** Every panel query of every dashboard JSON, and the problems found on the way (bad data source, no query). */
export function dashboardQueries(dir = DASHBOARDS_DIR, datasourceUid = provisionedDatasourceUid()) {
  const queries: NamedQuery[] = [];
  const problems: string[] = [];
  const files = readdirSync(dir).filter((name) => name.endsWith('.json'));
  for (const file of files) {
    const dashboard = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { uid?: string; panels?: Panel[] };
    if (!dashboard.uid) problems.push(`${file}: no uid`);
    const panels = (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
    for (const panel of panels) {
      const where = `${file}: ${panel.title ?? 'untitled panel'}`;
      if (!panel.targets || panel.targets.length === 0) problems.push(`${where}: no queries`);
      if (panel.datasource?.uid !== datasourceUid)
        problems.push(`${where}: data source uid is not "${datasourceUid}"`);
      for (const target of panel.targets ?? []) {
        if (!target.expr) problems.push(`${where} [${target.refId}]: empty query`);
        else queries.push({ source: `${where} [${target.refId}]`, expr: target.expr });
      }
    }
  }
  return { files, queries, problems };
}

const COMPARISON = /^(.*\S)\s*(>|<|>=|<=|==|!=)\s*(-?\d+(?:\.\d+)?)\s*$/s;

/**
 * The query side of every alert. Alerts are written `<query> <comparison> <threshold>`: the query must
 * return data against live metrics even while the alert is quiet, which is what the live check asks.
 */
export function alertQueries(dir = RULES_DIR) {
  const queries: NamedQuery[] = [];
  const problems: string[] = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.yml'))) {
    const content = parse(readFileSync(join(dir, file), 'utf8')) as {
      groups?: Array<{ rules?: Array<{ alert?: string; record?: string; expr?: string }> }>;
    };
    for (const rule of (content.groups ?? []).flatMap((group) => group.rules ?? [])) {
      const name = rule.alert ?? rule.record ?? 'unnamed rule';
      const match = rule.expr?.trim().match(COMPARISON);
      if (!match) problems.push(`${file}: ${name}: expression is not "<query> <comparison> <number>"`);
      else queries.push({ source: `${file}: ${name}`, expr: match[1] });
    }
  }
  return { queries, problems };
}

export function provisionedDatasourceUid(file = DATASOURCES_FILE): string | undefined {
  const content = parse(readFileSync(file, 'utf8')) as {
    datasources?: Array<{ uid?: string; type?: string }>;
  };
  return content.datasources?.find((source) => source.type === 'prometheus')?.uid;
}
