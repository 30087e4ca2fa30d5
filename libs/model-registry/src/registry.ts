import type { ModelVersionRef } from '@reputation-monitor/contracts';
import { HubModelRegistry } from './hub-registry';
import { ModelRegistryError } from './hub-upload';
import { LocalModelRegistry } from './local-registry';
import type { MaterializeOptions } from './materialize';
import { parseModelLocation } from './model-location';
import type { ModelVersionInfo } from './model-version';

export { parseModelLocation } from './model-location';
export type { GateSummary, ModelVersionInfo } from './model-version';

/**
 * Where model versions live: a Hub model repository (every branch head is a version, any commit can be
 * named) or a local directory of model directories. Read-only; versions get there through
 * `npm run retrain` + `npm run gate` (local) or `npm run model:publish` (Hub).
 */
export interface ModelRegistry {
  /** `hf://models/<owner>/<name>` or the directory. */
  readonly location: string;
  /** Newest first. */
  list(): Promise<ModelVersionInfo[]>;
  /** Hub: a commit id (full or unique prefix) or a branch name; local: the directory name. */
  get(idOrBranch: string): Promise<ModelVersionInfo | undefined>;
  /**
   * A local model directory holding that version (Hub: pulled once into cacheDir/<owner>/<name>/<commit>,
   * reused after; sha256-checked). `signal` calls a pull off (PullCancelledError).
   */
  materialize(ref: ModelVersionRef, options: MaterializeOptions): Promise<string>;
}

/** The registry at `hf://models/<owner>/<name>` or a directory (see parseModelLocation). */
export function openModelRegistry(
  location: string,
  hub: { endpoint: string; token?: string },
): ModelRegistry {
  const where = parseModelLocation(location);
  if (where.repo !== undefined) {
    if (where.revision !== undefined) {
      throw new ModelRegistryError(
        `"${location}" names one revision; a registry is the whole repository: hf://models/${where.repo}`,
      );
    }
    return new HubModelRegistry({ ...hub, repo: where.repo });
  }
  return new LocalModelRegistry(where.dir as string, hub);
}

/**
 * Whether a version may be promoted without --force: a passing gate report whose candidateVersion equals
 * the version's modelVersion (a report copied beside another model does not count).
 */
/** The laxest gate rules a report may have used and still allow promotion without --force. */
export const MAX_GATE_P = 0.05;
export const MAX_GATE_REGRESSION = 0.05;

export function gateVerdict(info: ModelVersionInfo): { passed: boolean; why: string } {
  const { gate, modelVersion } = info;
  if (gate === null)
    return { passed: false, why: `${info.id} has no readable gate report (gate-report.json)` };
  if (modelVersion === null) {
    return {
      passed: false,
      why: `the graph of ${info.id} has no known version to match its gate report with`,
    };
  }
  if (gate.candidateVersion !== modelVersion) {
    return {
      passed: false,
      why:
        `the gate report beside ${info.id} is for ${gate.candidateVersion}, not for its graph ${modelVersion} ` +
        '(a report copied from another model does not count)',
    };
  }
  // A gate run with rules it could not fail (tools/retrain accepts any numbers) is no evidence.
  const rules = gate.thresholds;
  if (
    !rules ||
    !(rules.minGain > 0 && rules.maxP <= MAX_GATE_P && rules.maxRegression <= MAX_GATE_REGRESSION)
  ) {
    return {
      passed: false,
      why:
        `the gate report of ${modelVersion} ${rules ? `used lax rules (${JSON.stringify(rules)})` : 'names no rules'}: ` +
        `promotion needs a gain above 0, p at most ${MAX_GATE_P} and a golden-set loss of at most ${MAX_GATE_REGRESSION}`,
    };
  }
  if (gate.verdict !== 'pass') {
    return {
      passed: false,
      why: `the gate did not pass ${modelVersion} (${gate.createdAt})${gate.reasons[0] ? `: ${gate.reasons[0]}` : ''}`,
    };
  }
  return {
    passed: true,
    why: `the gate passed ${modelVersion} (${gate.createdAt})${gate.reasons[0] ? `: ${gate.reasons[0]}` : ''}`,
  };
}
