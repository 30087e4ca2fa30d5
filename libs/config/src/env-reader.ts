import { redisUrlProblem } from '@reputation-monitor/redis-connection';

/** Every bad variable at once, so a misconfigured deployment is fixed in one go. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** One variable an app reads, as `--env-schema` prints it for deployment checks. */
export interface EnvVariable {
  name: string;
  kind: 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'redis-url' | 'list';
  default?: string | number | boolean;
  allowed?: readonly string[];
}

interface NumberRule {
  default: number;
  min?: number;
  max?: number;
}

/**
 * Reads environment variables into typed values. Problems are collected, not thrown one by one;
 * call `done()` after reading everything to throw a ConfigError naming each bad variable.
 */
export class EnvReader {
  private readonly problems: string[] = [];
  /** Every variable read so far, in order: the app's configuration schema. */
  readonly variables: EnvVariable[] = [];

  constructor(private readonly env: Record<string, string | undefined> = process.env) {}

  string(name: string, fallback: string): string {
    this.declare({ name, kind: 'string', default: fallback });
    const raw = this.raw(name);
    return raw ?? fallback;
  }

  optionalString(name: string): string | undefined {
    this.declare({ name, kind: 'string' });
    return this.raw(name);
  }

  int(name: string, rule: NumberRule): number {
    this.declare({ name, kind: 'integer', default: rule.default });
    return this.number(name, rule, true);
  }

  float(name: string, rule: NumberRule): number {
    this.declare({ name, kind: 'number', default: rule.default });
    return this.number(name, rule, false);
  }

  bool(name: string, fallback: boolean): boolean {
    this.declare({ name, kind: 'boolean', default: fallback });
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    const value = raw.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(value)) return true;
    if (['0', 'false', 'no', 'off'].includes(value)) return false;
    this.problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    this.declare({ name, kind: 'enum', default: fallback, allowed });
    const raw = this.raw(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
    return fallback;
  }

  /** A redis:// or rediss:// URL. */
  redisUrl(name: string, fallback: string): string {
    this.declare({ name, kind: 'redis-url', default: fallback });
    const raw = this.raw(name) ?? fallback;
    const problem = redisUrlProblem(raw);
    if (problem) this.problems.push(`${name} ${problem}`);
    return raw;
  }

  /** Comma-separated values, blanks dropped. */
  list(name: string, fallback: string[] = []): string[] {
    this.declare({ name, kind: 'list', ...(fallback.length > 0 && { default: fallback.join(',') }) });
    const raw = this.raw(name);
    return raw === undefined
      ? fallback
      : raw
          .split(',')
          .map((part) => part.trim())
          .filter(Boolean);
  }

  /** Records a cross-field problem found by the caller. */
  check(condition: boolean, problem: string): void {
    if (!condition) this.problems.push(problem);
  }

  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }

  private declare(variable: EnvVariable): void {
    if (!this.variables.some((known) => known.name === variable.name)) this.variables.push(variable);
  }

  private raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  private number(name: string, rule: NumberRule, integer: boolean): number {
    const raw = this.raw(name);
    if (raw === undefined) return rule.default;
    const value = Number(raw);
    const kind = integer ? 'an integer' : 'a number';
    if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      this.problems.push(`${name} must be ${kind}, got "${raw}"`);
      return rule.default;
    }
    if ((rule.min !== undefined && value < rule.min) || (rule.max !== undefined && value > rule.max)) {
      const range = `${rule.min ?? '-inf'}..${rule.max ?? 'inf'}`;
      this.problems.push(`${name} must be ${kind} in ${range}, got ${value}`);
      return rule.default;
    }
    return value;
  }
}
