import { Inject, Injectable } from '@nestjs/common';
import type { ClassifyJobResult, Prediction, SentimentLabel } from '@reputation-monitor/contracts';
import type { SentimentProducer } from '@reputation-monitor/producer-client';
import { GOLDEN_SOURCE } from '@reputation-monitor/contracts';
import { DriftConfig } from './drift-config';
import type { GoldenItem } from '@reputation-monitor/dataset-store';
import { DRIFT_CONFIG, GOLDEN_SET, PRODUCER } from './tokens';

/** Chunks of the golden set in flight at once: enough to keep a worker's batcher busy, few enough to share the queue. */
export const GOLDEN_CHUNKS_IN_FLIGHT = 4;

export interface GoldenRun {
  /** The version that answered most of the golden set (a rollout can split it). */
  modelVersion: string;
  modelName: string;
  /** Truth and prediction of every item the chosen version answered. */
  pairs: Array<{ truth: SentimentLabel; predicted: SentimentLabel }>;
  /** Those predictions, for building a reference from the golden set. */
  predictions: Prediction[];
  /** Items answered by another version, left out. */
  otherVersions: number;
  durationMs: number;
}

/**
 * Sends the golden set through the real queue the way a client would: chunks of GOLDEN_CHUNK_SIZE texts
 * through the producer client, a few at a time, each waited for up to GOLDEN_TIMEOUT_MS. The jobs carry
 * the source `drift-golden`, so their predictions are kept out of the drift windows.
 */
@Injectable()
export class GoldenSetRunner {
  constructor(
    @Inject(GOLDEN_SET) private readonly items: GoldenItem[] | null,
    @Inject(PRODUCER) private readonly producer: SentimentProducer | null,
    @Inject(DRIFT_CONFIG) private readonly config: DriftConfig,
  ) {}

  get enabled(): boolean {
    return this.items !== null && this.producer !== null;
  }

  get size(): number {
    return this.items?.length ?? 0;
  }

  async run(): Promise<GoldenRun> {
    if (!this.items || !this.producer) throw new Error('no golden set is configured');
    const producer = this.producer;
    const started = performance.now();
    const chunks = chunk(this.items, this.config.golden.chunkSize);
    const results: ClassifyJobResult[] = new Array(chunks.length);
    let next = 0;
    const lane = async () => {
      while (next < chunks.length) {
        const index = next++;
        results[index] = await producer.classify(
          chunks[index].map((item) => ({ text: item.text })),
          this.config.golden.timeoutMs,
          { source: GOLDEN_SOURCE },
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(GOLDEN_CHUNKS_IN_FLIGHT, chunks.length) }, lane));
    return pairUp(chunks, results, Math.round(performance.now() - started));
  }
}

/** Matches each chunk's predictions to its items, keeping those of the version that answered most. */
export function pairUp(chunks: GoldenItem[][], results: ClassifyJobResult[], durationMs: number): GoldenRun {
  const byVersion = new Map<string, number>();
  results.forEach((result, index) =>
    byVersion.set(result.model.version, (byVersion.get(result.model.version) ?? 0) + chunks[index].length),
  );
  const [modelVersion] = [...byVersion.entries()].sort((a, b) => b[1] - a[1])[0];
  const run: GoldenRun = {
    modelVersion,
    modelName: '',
    pairs: [],
    predictions: [],
    otherVersions: 0,
    durationMs,
  };
  results.forEach((result, index) => {
    if (result.model.version !== modelVersion) {
      run.otherVersions += chunks[index].length;
      return;
    }
    run.modelName = result.model.name;
    if (result.predictions.length !== chunks[index].length) {
      throw new Error(
        `golden chunk ${index}: ${result.predictions.length} predictions for ${chunks[index].length} texts`,
      );
    }
    result.predictions.forEach((prediction, i) => {
      run.pairs.push({ truth: chunks[index][i].label, predicted: prediction.label });
      run.predictions.push(prediction);
    });
  });
  return run;
}

/** Splits items into chunks of at most `size`, in order. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be >= 1, got ${size}`);
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}
