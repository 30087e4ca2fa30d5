import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { SENTIMENT_LABELS } from '@reputation-monitor/contracts';
import { checkGraphInterface, GraphValue } from './graph-interface';
import { ModelDirectory, ModelVariant, openModelDirectory } from './model-directory';
import { softmaxRows } from './softmax';

/** The thread script ships beside this file (copied next to the bundle when the worker app is built). */
export const INFERENCE_THREAD_SCRIPT = join(__dirname, 'inference-thread.js');

export interface SentimentModelOptions {
  modelDir: string;
  variant?: ModelVariant;
  /** ONNX Runtime intra-op threads (the cores one batch may use). */
  intraOpThreads?: number;
  /**
   * Let idle intra-op threads spin waiting for work (ONNX Runtime's default). Off by default here: on
   * a small machine the spinning takes the CPU that the queue, Redis and the gateway need between batches.
   */
  allowSpinning?: boolean;
  /**
   * Run the inference thread (and ONNX Runtime's threads) this much below the process's CPU priority (Linux
   * nice, 0-19): when every core computes, the process's own thread and services on the same host still get a
   * core at once. Elsewhere it is ignored, with a warning from `priorityProblem`.
   */
  niceness?: number;
  /** Run one small batch after loading so the first real request does not pay for lazy initialisation. */
  warmup?: boolean;
  /** Override for the thread script's location (bundles put it next to their entry file). */
  threadScript?: string;
  /**
   * Float outputs to return beside the logits, by name (a trainer reads the classification head's input
   * features this way from a graph that exposes them). Each must be [batch, n].
   */
  extraOutputs?: readonly string[];
}

/** Token ids of one batch, right-padded, row-major [batchSize, sequenceLength]. */
export interface ModelBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  batchSize: number;
  sequenceLength: number;
}

export interface BatchOutput {
  /** Softmax over the labels, one row per text, in label-schema order. */
  scores: number[][];
  /** Time spent inside session.run on the inference thread. */
  computeMs: number;
  /** The `extraOutputs` asked for, row-major with their dims. */
  extra: Record<string, { data: Float32Array; dims: number[] }>;
}

type ThreadMessage =
  | { type: 'loaded'; inputs: GraphValue[]; outputs: GraphValue[]; priorityProblem?: string }
  | { type: 'load-failed'; message: string }
  | {
      type: 'result';
      id: number;
      logits: Float32Array;
      dims: number[];
      computeMs: number;
      extra: Array<{ name: string; data: Float32Array; dims: number[] }>;
    }
  | { type: 'run-failed'; id: number; message: string };

interface PendingRun {
  resolve: (output: BatchOutput) => void;
  reject: (error: Error) => void;
  rows: number;
}

/**
 * A sentiment classifier served by ONNX Runtime on a dedicated thread. Loading checks the directory,
 * the config's labels and the graph's interface, and fails with a message naming what is wrong.
 */
export class SentimentModel {
  private nextRunId = 1;
  private readonly pending = new Map<number, PendingRun>();
  private failure: Error | undefined;
  private closed = false;

  private constructor(
    readonly directory: ModelDirectory,
    private readonly thread: Worker,
    /** Why the thread's priority could not be lowered as asked (undefined: it was, or none was asked). */
    readonly priorityProblem: string | undefined,
  ) {
    thread.on('message', (message: ThreadMessage) => this.onMessage(message));
    thread.on('error', (error) => this.fail(new Error(`inference thread crashed: ${error.message}`)));
    thread.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`inference thread exited with code ${code}`));
    });
  }

  /** Checks the model directory, then loads its graph (see `open`). */
  static async load(options: SentimentModelOptions): Promise<SentimentModel> {
    return SentimentModel.open(
      await openModelDirectory(options.modelDir, options.variant ?? 'fp32'),
      options,
    );
  }

  /** Loads the graph of an already checked directory on a new inference thread, checks it and warms it up. */
  static async open(
    directory: ModelDirectory,
    options: Omit<SentimentModelOptions, 'modelDir' | 'variant'> = {},
  ): Promise<SentimentModel> {
    const thread = new Worker(options.threadScript ?? INFERENCE_THREAD_SCRIPT, {
      workerData: {
        modelPath: directory.modelPath,
        niceness: options.niceness ?? 0,
        extraOutputs: options.extraOutputs ?? [],
        sessionOptions: {
          intraOpNumThreads: options.intraOpThreads ?? 0,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
          extra: { session: { intra_op: { allow_spinning: options.allowSpinning ? '1' : '0' } } },
        },
      },
    });
    const loaded = await new Promise<Extract<ThreadMessage, { type: 'loaded' }>>((resolve, reject) => {
      const onMessage = (message: ThreadMessage) => {
        cleanup();
        if (message.type === 'loaded') resolve(message);
        else if (message.type === 'load-failed')
          reject(new Error(`cannot load ${directory.modelPath}: ${message.message}`));
        else reject(new Error(`unexpected message ${message.type} while loading`));
      };
      const onError = (error: Error) => {
        cleanup();
        reject(new Error(`inference thread failed while loading ${directory.modelPath}: ${error.message}`));
      };
      const cleanup = () => {
        thread.off('message', onMessage);
        thread.off('error', onError);
      };
      thread.on('message', onMessage);
      thread.on('error', onError);
    }).catch(async (error: Error) => {
      await thread.terminate();
      throw error;
    });

    const problems = checkGraphInterface(loaded.inputs, loaded.outputs, SENTIMENT_LABELS.length);
    for (const name of options.extraOutputs ?? []) {
      if (!loaded.outputs.some((output) => output.name === name))
        problems.push(`output "${name}" is missing`);
    }
    if (problems.length > 0) {
      await thread.terminate();
      throw new Error(`${directory.modelPath} is not a sentiment classifier export: ${problems.join('; ')}`);
    }
    const model = new SentimentModel(directory, thread, loaded.priorityProblem);
    if (options.warmup ?? true) {
      // <s> Hello world </s>: exercises every kernel once. A model that cannot answer it is not served, and
      // its thread (with the session's memory) goes with it.
      await model
        .run({
          inputIds: BigInt64Array.from([0n, 31414n, 232n, 2n]),
          attentionMask: BigInt64Array.from([1n, 1n, 1n, 1n]),
          batchSize: 1,
          sequenceLength: 4,
        })
        .catch(async (error: Error) => {
          await model.close();
          throw new Error(`${directory.modelPath} failed its warm-up run: ${error.message}`);
        });
    }
    return model;
  }

  /** Set once the thread has died; every later run fails with it. */
  get broken(): Error | undefined {
    return this.failure;
  }

  run(batch: ModelBatch): Promise<BatchOutput> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new Error('model is closed'));
    const expected = batch.batchSize * batch.sequenceLength;
    if (batch.inputIds.length !== expected || batch.attentionMask.length !== expected) {
      return Promise.reject(new RangeError(`batch tensors must hold ${expected} ids`));
    }
    const id = this.nextRunId++;
    return new Promise<BatchOutput>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, rows: batch.batchSize });
      this.thread.postMessage({ type: 'run', id, ...batch });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('model is closed'));
    await this.thread.terminate();
  }

  private onMessage(message: ThreadMessage): void {
    if (message.type !== 'result' && message.type !== 'run-failed') return;
    const run = this.pending.get(message.id);
    if (!run) return;
    this.pending.delete(message.id);
    if (message.type === 'run-failed') {
      run.reject(new Error(`inference failed: ${message.message}`));
      return;
    }
    const [rows, cols] = message.dims;
    if (rows !== run.rows || cols !== SENTIMENT_LABELS.length) {
      run.reject(
        new Error(
          `logits have shape [${message.dims.join(', ')}], expected [${run.rows}, ${SENTIMENT_LABELS.length}]`,
        ),
      );
      return;
    }
    // NaN or infinite logits (weights broken in training or export, an overflow) would become null scores
    // that complete a job with no answer: refuse the run, so the batcher's halving finds the texts concerned.
    const broken = nonFiniteRows(message.logits, cols);
    if (broken > 0) {
      run.reject(
        new Error(`the model gave non-finite logits (NaN or infinite) for ${broken} of ${rows} texts`),
      );
      return;
    }
    run.resolve({
      scores: softmaxRows(message.logits, rows, cols),
      computeMs: message.computeMs,
      extra: Object.fromEntries(message.extra.map(({ name, data, dims }) => [name, { data, dims }])),
    });
  }

  private fail(error: Error): void {
    if (!this.failure) this.failure = error;
    for (const run of this.pending.values()) run.reject(error);
    this.pending.clear();
  }
}

/** Rows of a [rows, cols] matrix holding a NaN or an infinity. */
function nonFiniteRows(logits: Float32Array, cols: number): number {
  let broken = 0;
  for (let offset = 0; offset < logits.length; offset += cols) {
    for (let col = 0; col < cols; col++) {
      if (!Number.isFinite(logits[offset + col])) {
        broken++;
        break;
      }
    }
  }
  return broken;
}
