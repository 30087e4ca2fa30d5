import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Logger } from '@nestjs/common';
import { ModelInfo, SENTIMENT_LABELS, SentimentLabel, SentimentScores } from '@reputation-monitor/contracts';
import { ModelVariant, SentimentModel, openModelDirectory } from '@reputation-monitor/model-runtime';
import {
  CpuFeatures,
  GraphQuantization,
  MEASURED_INT8_SPEEDUP,
  describeQuantization,
  isSlowWeightTypeFor,
  readCpuFeatures,
  readModelStructure,
} from '@reputation-monitor/onnx-graph';
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';
import { BatchPolicy, BatchStats, DEFAULT_RUN_COST, MicroBatcher } from './micro-batcher';
import { LinearRunCost, calibrateRunCost, calibrationShapes } from '@reputation-monitor/model-runtime';

export interface TextScore {
  label: SentimentLabel;
  scores: SentimentScores;
  tokens: number;
  truncated: boolean;
}

export interface LoadOptions {
  dir: string;
  variant: ModelVariant;
  /** Reported name; default the directory's name. */
  name: string;
  /** Reported version; default `<variant>-<first 12 hex of the graph's sha256>`. */
  version?: string;
  /** The registry's id of this version (`static` for MODEL_DIR served without an assignment). */
  versionId: string;
  intraOpThreads: number;
  allowSpinning: boolean;
  maxTokens: number;
  batch: BatchPolicy;
  onBatch: (stats: BatchStats) => void;
  /** A failed batch was split in halves to isolate the failing texts. */
  onBatchSplit?: () => void;
  onTokenized: (ms: number) => void;
  /** The CPU's features, for the check of the graph's weight type; default this machine's. */
  cpu?: CpuFeatures;
}

/** What the served graph is quantized with, and whether that is the slow kind for this CPU. */
export interface ServedQuantization extends GraphQuantization {
  slowForCpu: boolean;
}

const logger = new Logger('LoadedModel');

/**
 * Reads the quantization of a graph from its nodes (not its weights: a few MB of a 500 MB file). Undefined,
 * with a warning, when the file cannot be read that way: ONNX Runtime is the judge of whether it serves.
 */
export async function readServedQuantization(
  modelPath: string,
  cpu: CpuFeatures,
): Promise<ServedQuantization | undefined> {
  let quantization: GraphQuantization;
  try {
    quantization = describeQuantization(await readModelStructure(modelPath));
  } catch (error) {
    logger.warn(`cannot tell how ${modelPath} is quantized: ${(error as Error).message}`);
    return undefined;
  }
  return { ...quantization, slowForCpu: isSlowWeightTypeFor(quantization.weightType, cpu) };
}

/** The warning for a graph whose weights are slow on this CPU (uint8 where VNNI makes int8 fast), else undefined. */
export function slowGraphWarning(
  modelPath: string,
  quantization: ServedQuantization | undefined,
  cpu: CpuFeatures,
): string | undefined {
  if (!quantization?.slowForCpu) return undefined;
  return (
    `${modelPath} has ${quantization.weightType} weights, but this CPU has ${cpu.int8Flags.join(', ')}: ` +
    `signed int8 weights ran ${MEASURED_INT8_SPEEDUP} as fast here (README, Benchmarks). Re-quantize it on this ` +
    `kind of CPU: npm run model:quantize -- <model dir> (--weight-type auto picks int8 where VNNI is present)`
  );
}

/**
 * One model version ready to serve: its checked directory, ONNX Runtime session on a thread of its own,
 * tokenizer and micro-batcher. A worker holds one (production) or two (production and a candidate, or the
 * old and the new production during a switch); each keeps its own batches, so no batch mixes versions.
 */
export class LoadedModel {
  /** Jobs that picked this model and have not finished with it. */
  private users = 0;
  private idleWaiters: Array<() => void> = [];
  private closing: Promise<void> | undefined;
  /** When texts were last submitted or a batch last finished (performance.now()). */
  private lastActiveAt = 0;

  private constructor(
    readonly versionId: string,
    readonly info: ModelInfo,
    readonly variant: ModelVariant,
    readonly synthetic: boolean,
    /** Undefined when the graph could not be inspected. */
    readonly quantization: ServedQuantization | undefined,
    private readonly model: SentimentModel,
    private readonly tokenizer: SentimentTokenizer,
    private readonly batcher: MicroBatcher,
    /** The packing policy's cost model for this graph on this machine (calibrated at load). */
    readonly runCost: LinearRunCost,
    private readonly onTokenized: (ms: number) => void,
  ) {}

  /** Checks the directory, loads and warms the graph; throws (naming what is wrong) for anything unservable. */
  static async load(options: LoadOptions): Promise<LoadedModel> {
    // Directory checks first, so a wrong directory is reported as such rather than as whichever file failed first.
    const directory = await openModelDirectory(options.dir, options.variant);
    // The tokenizer first: it is cheap, and a session must not be left open when it fails.
    const tokenizer = await SentimentTokenizer.fromDirectory(options.dir, { maxTokens: options.maxTokens });
    const version = options.version ?? `${options.variant}-${await fileDigest(directory.modelPath)}`;
    const cpu = options.cpu ?? readCpuFeatures();
    const quantization = await readServedQuantization(directory.modelPath, cpu);
    const warning = slowGraphWarning(directory.modelPath, quantization, cpu);
    if (warning) logger.warn(warning);
    const model = await SentimentModel.open(directory, {
      intraOpThreads: options.intraOpThreads,
      allowSpinning: options.allowSpinning,
      warmup: true,
    });
    // The packing policy's cost model: this graph's own run times on this machine (about 2 s of runs for
    // RoBERTa-base on two cores, a few ms for a tiny graph).
    const [bos, word, eos] = tokenizer.encode('the').ids;
    const runCost = await calibrateRunCost(
      async (texts, width) => {
        const ids = [bos, ...Array<number>(width - 2).fill(word), eos];
        return (await model.run(tokenizer.pad(Array.from({ length: texts }, () => ids)))).computeMs;
      },
      calibrationShapes(options.batch),
      DEFAULT_RUN_COST,
    );
    logger.log(
      `${options.dir} (${options.variant}): a run costs ~${runCost.overheadMs.toFixed(1)} ms + ` +
        `${runCost.perTokenMs.toFixed(3)} ms per padded token (calibrated; the packing policy's cost model)`,
    );
    const batcher = new MicroBatcher(
      async (sequences) => model.run(tokenizer.pad(sequences)),
      options.batch,
      options.onBatch,
      options.onBatchSplit,
      runCost,
    );
    return new LoadedModel(
      options.versionId,
      { name: options.name, version },
      options.variant,
      directory.config.synthetic !== undefined,
      quantization,
      model,
      tokenizer,
      batcher,
      runCost,
      options.onTokenized,
    );
  }

  /** Set once the inference thread has died. */
  get broken(): Error | undefined {
    return this.model.broken;
  }

  /** True while a batch runs or texts wait for one. */
  get busy(): boolean {
    return this.batcher.waiting > 0 || this.batcher.busy;
  }

  /** How long the model has had nothing to do, in ms (0 while busy). */
  get idleForMs(): number {
    return this.busy ? 0 : performance.now() - this.lastActiveAt;
  }

  async score(texts: readonly string[]): Promise<TextScore[]> {
    const started = performance.now();
    const encoded = texts.map((text) => this.tokenizer.encode(text));
    this.onTokenized(performance.now() - started);
    this.lastActiveAt = performance.now();
    const rows = await this.batcher.submit(encoded.map((item) => item.ids)).finally(() => {
      this.lastActiveAt = performance.now();
    });
    return rows.map((row, index) => ({
      label: SENTIMENT_LABELS[argmax(row)],
      scores: { negative: row[0], neutral: row[1], positive: row[2] },
      tokens: encoded[index].ids.length,
      truncated: encoded[index].truncated,
    }));
  }

  /** Marks a job as using this model until `release` is called; a model is closed only once unused. */
  acquire(): () => void {
    this.users++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.users--;
      if (this.users === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
    };
  }

  /** Waits until no job uses the model and its batches are done. */
  async idle(): Promise<void> {
    if (this.users > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.batcher.idle();
  }

  /** True once the model is being retired: no new work (shadow work for it is dropped). */
  get retiring(): boolean {
    return this.closing !== undefined;
  }

  /** Frees the session after the last job that picked this model has finished with it. */
  retire(): Promise<void> {
    this.closing ??= this.idle().then(() => this.model.close());
    return this.closing;
  }

  /** Closes at once (shutdown, or a model that never served). */
  async close(): Promise<void> {
    await this.model.close();
  }
}

function argmax(row: number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** First 12 hex digits of the file's sha256: a model version that changes whenever the weights do. */
export function fileDigest(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex').slice(0, 12)));
  });
}
