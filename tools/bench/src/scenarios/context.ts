import type { CpuPinning } from '../cpu-pinning';
import type { BenchOptions } from '../options';
import type { Measurement, Variant } from '../results';

/** What every scenario gets: the options, the workspace and the TweetEval test tweets. */
export interface ScenarioContext {
  root: string;
  options: BenchOptions;
  /** Every TweetEval sentiment test tweet, in file order. */
  tweets: string[];
  /** `--model-cpus`: where the model runs and where everything else does (absent: anywhere). */
  pinning?: CpuPinning;
  log(message: string): void;
}

export type ScenarioRunner = (context: ScenarioContext, variant: Variant) => Promise<Measurement[]>;

/** The texts of the throughput scenarios. */
export const throughputTexts = (context: ScenarioContext) => context.tweets.slice(0, context.options.texts);
/** The texts of the one-at-a-time scenarios (seed's way, transformers.js single). */
export const slowTexts = (context: ScenarioContext) => context.tweets.slice(0, context.options.slowTexts);
