import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { ModelInfo, SentimentLabel, SentimentScores, SENTIMENT_LABELS } from '@reputation-monitor/contracts';
import { SentimentModel, openModelDirectory } from '@reputation-monitor/model-runtime';
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';
import { MicroBatcher } from './micro-batcher';
import { WORKER_CONFIG } from './tokens';
import { WorkerMetrics } from './worker-metrics';
import type { WorkerConfig } from './worker-config';

export interface TextScore {
  label: SentimentLabel;
  scores: SentimentScores;
  tokens: number;
  truncated: boolean;
}

/** Tokenizer + model + micro-batcher: texts in, labelled scores out. */
@Injectable()
export class SentimentEngine implements OnApplicationShutdown {
  private readonly logger = new Logger(SentimentEngine.name);
  private model: SentimentModel | undefined;
  private tokenizer: SentimentTokenizer | undefined;
  private batcher: MicroBatcher | undefined;
  private info: ModelInfo | undefined;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    private readonly metrics: WorkerMetrics,
  ) {}

  /** Loads and warms the model; the queue consumer starts only after this resolves. */
  async load(): Promise<void> {
    const started = performance.now();
    // Directory checks first, so a wrong MODEL_DIR is reported as such rather than as whichever file failed first.
    const directory = await openModelDirectory(this.config.modelDir, this.config.modelVariant);
    const [model, tokenizer] = await Promise.all([
      SentimentModel.open(directory, {
        intraOpThreads: this.config.intraOpThreads,
        allowSpinning: this.config.intraOpSpinning,
        warmup: true,
      }),
      SentimentTokenizer.fromDirectory(this.config.modelDir, { maxTokens: this.config.maxTokens }),
    ]);
    this.model = model;
    this.tokenizer = tokenizer;
    const version =
      this.config.modelVersion ??
      `${this.config.modelVariant}-${await fileDigest(model.directory.modelPath)}`;
    this.info = { name: this.config.modelName, version };
    this.batcher = new MicroBatcher(
      async (sequences) => model.run(tokenizer.pad(sequences)),
      this.config.batch,
      (stats) => this.metrics.batch(stats),
    );
    this.metrics.model(this.info.name, this.info.version, this.config.modelVariant);
    const synthetic = model.directory.config.synthetic
      ? ' (SYNTHETIC weights: predictions are meaningless)'
      : '';
    this.logger.log(
      `model ${this.info.name}@${this.info.version} loaded from ${model.directory.modelPath}${synthetic} in ${Math.round(performance.now() - started)} ms`,
    );
  }

  get modelInfo(): ModelInfo {
    if (!this.info) throw new Error('model is not loaded');
    return this.info;
  }

  get ready(): boolean {
    return this.model !== undefined && this.model.broken === undefined;
  }

  /** Set when the inference thread has died; the worker must restart. */
  get failure(): Error | undefined {
    return this.model?.broken;
  }

  async score(texts: readonly string[]): Promise<TextScore[]> {
    if (!this.tokenizer || !this.batcher) throw new Error('model is not loaded');
    const started = performance.now();
    const encoded = texts.map((text) => this.tokenizer!.encode(text));
    this.metrics.tokenized(performance.now() - started);
    const rows = await this.batcher.submit(encoded.map((item) => item.ids));
    return rows.map((row, index) => ({
      label: SENTIMENT_LABELS[argmax(row)],
      scores: { negative: row[0], neutral: row[1], positive: row[2] },
      tokens: encoded[index].ids.length,
      truncated: encoded[index].truncated,
    }));
  }

  /** Waits for batches already accepted to finish. */
  async drain(): Promise<void> {
    await this.batcher?.idle();
  }

  // After the consumer has let in-flight jobs finish (beforeApplicationShutdown runs first).
  async onApplicationShutdown(): Promise<void> {
    await this.model?.close();
  }
}

function argmax(row: number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** First 12 hex digits of the file's sha256: a model version that changes whenever the weights do. */
function fileDigest(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex').slice(0, 12)));
  });
}
