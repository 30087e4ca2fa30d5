import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Logger } from '@nestjs/common';
import {
  ModelInfo,
  ModelVersionRef,
  SENTIMENT_LABELS,
  SentimentLabel,
  SentimentScores,
} from '@reputation-monitor/contracts';
import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import {
  LaneLayout,
  ModelDirectory,
  ModelVariant,
  SentimentModel,
  describeLaneLayout,
  laneLayout,
  openModelDirectory,
  soloLanePays,
} from '@reputation-monitor/model-runtime';
import {
  CpuFeatures,
  GraphQuantization,
  measuredInt8Speedup,
  describeQuantization,
  isSlowWeightTypeFor,
  readCpuFeatures,
  readModelStructure,
} from '@reputation-monitor/onnx-graph';
import { SentimentTokenizer } from '@reputation-monitor/tokenizer';
import { BatchPolicy, BatchStats, DEFAULT_RUN_COST, MicroBatcher } from './micro-batcher';
import { LoneRunTimes, SoloLaneTrial, SoloTrialOptions, fasterOf } from './solo-lane-trial';
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
  /** The registry's location of this version; none for MODEL_DIR, which is no version of the registry. */
  versionLocation?: string;
  /** Cores the sessions use in all (0: every core). */
  intraOpThreads: number;
  /** Concurrent runs (0: auto), see laneLayout. */
  inferenceLanes: number;
  soloLane: 'auto' | 'on' | 'off';
  /**
   * Open one session with every core instead of the lanes (a candidate, or a production loaded beside the
   * one serving): one copy of the weights, not one per lane. `widen` opens the lanes later.
   */
  narrow?: boolean;
  /** Linux nice of the inference threads (0: the process's priority). */
  niceness?: number;
  allowSpinning: boolean;
  maxTokens: number;
  batch: BatchPolicy;
  onBatch: (stats: BatchStats) => void;
  /** A failed batch was split in halves to isolate the failing texts. */
  onBatchSplit?: () => void;
  onTokenized: (ms: number) => void;
  /** The CPU's features, for the check of the graph's weight type; default this machine's. */
  cpu?: CpuFeatures;
  /** The lanes changed after load (a solo lane kept after its trial): the model-info metric is stale. */
  onLanesChanged?: () => void;
  /** The solo lane's trial (solo-lane-trial.ts): its schedule and rule, shortened by tests. */
  soloTrial?: Pick<SoloTrialOptions, 'delaysMs' | 'pays'>;
  /**
   * Whether the other versions loaded beside this one (a shadow or canary pair) have nothing to run. A trial's
   * timing holds every core for a few lone runs, so it waits for that too, not only for this model to be idle.
   */
  quietElsewhere?: () => boolean;
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
    `signed int8 weights ran ${measuredInt8Speedup(cpu)} as fast here (README, Benchmarks). Re-quantize it on this ` +
    `kind of CPU: npm run model:quantize -- <model dir> (--weight-type auto picks int8 where VNNI is present)`
  );
}

/** The sessions serving one model version: the lanes, and the solo lane when it is kept or on trial. */
interface Sessions {
  lanes: SentimentModel[];
  solo: SentimentModel | undefined;
  /** A solo lane's session on trial (unused until kept). */
  onTrial?: SentimentModel;
}

type SessionOptions = Pick<
  LoadOptions,
  'allowSpinning' | 'soloLane' | 'niceness' | 'batch' | 'soloTrial' | 'onLanesChanged' | 'quietElsewhere'
>;

/** What a narrow model opens when it is widened. */
interface Widening {
  directory: ModelDirectory;
  layout: LaneLayout;
  options: SessionOptions;
}

/**
 * One model version ready to serve: its checked directory, ONNX Runtime sessions each on a thread of its
 * own (one per inference lane, and the solo lane), tokenizer and micro-batcher. A worker holds one
 * (production) or two (production and a candidate, or the old and the new production during a switch);
 * each keeps its own batches, so no batch mixes versions.
 */
export class LoadedModel {
  /** Jobs that picked this model and have not finished with it. */
  private users = 0;
  private idleWaiters: Array<() => void> = [];
  private closing: Promise<void> | undefined;
  /** When texts were last submitted or a batch last finished (performance.now()). */
  private lastActiveAt = 0;
  private closed = false;
  private soloTrial: SoloLaneTrial | undefined;
  /** A solo lane closed after its trial, until its thread has ended (retire and close wait for it). */
  private closingTrialSession: Promise<void> | undefined;

  private constructor(
    readonly versionId: string,
    readonly versionLocation: string | undefined,
    readonly info: ModelInfo,
    readonly variant: ModelVariant,
    readonly synthetic: boolean,
    /** Undefined when the graph could not be inspected. */
    readonly quantization: ServedQuantization | undefined,
    private sessions: Sessions,
    private readonly tokenizer: SentimentTokenizer,
    private readonly batcher: MicroBatcher,
    private cost: LinearRunCost,
    private readonly onTokenized: (ms: number) => void,
    /** Set while the model is narrow and the configured layout has more lanes. */
    private widening: Widening | undefined,
  ) {}

  /** Checks the directory, loads and warms the graph; throws (naming what is wrong) for anything unservable. */
  static async load(options: LoadOptions): Promise<LoadedModel> {
    // Directory checks first, so a wrong directory is reported as such rather than as whichever file failed first.
    const directory = await openModelDirectory(options.dir, options.variant);
    // The tokenizer first: it is cheap, and a session must not be left open when it fails.
    const tokenizer = await SentimentTokenizer.fromDirectory(options.dir, { maxTokens: options.maxTokens });
    if (!tokenizer.cachesPieces) {
      logger.log(
        `${options.dir}: the tokenizer is not laid out like RoBERTa's; each text goes through it whole`,
      );
    }
    const version = options.version ?? `${options.variant}-${await fileDigest(directory.modelPath)}`;
    const cpu = options.cpu ?? readCpuFeatures();
    const quantization = await readServedQuantization(directory.modelPath, cpu);
    const warning = slowGraphWarning(directory.modelPath, quantization, cpu);
    if (warning) logger.warn(warning);
    const cores = options.intraOpThreads || availableParallelism();
    const configured = laneLayout(cores, options.inferenceLanes);
    const layout = options.narrow ? laneLayout(cores, 1) : configured;
    const sessions = await openSessions(directory, layout, options);
    const timeRun = runTimer(tokenizer);
    let runCost: LinearRunCost;
    let soloTimes: LoneRunTimes | undefined;
    try {
      runCost = await calibrateLane(sessions.lanes[0], timeRun, options.batch);
      if (sessions.solo) {
        const verdict = await judgeSoloLane(options, sessions.solo, sessions.lanes[0], timeRun);
        if (typeof verdict !== 'boolean') {
          soloTimes = verdict;
          sessions.onTrial = sessions.solo;
          sessions.solo = undefined;
        }
      }
    } catch (error) {
      await closeSessions(sessions);
      throw error;
    }
    logCalibration(directory.dir, options.variant, layout, sessions, runCost);
    const run = runnerOf(tokenizer);
    const batcher = new MicroBatcher(
      { lanes: sessions.lanes.map(run), solo: sessions.solo && run(sessions.solo) },
      options.batch,
      options.onBatch,
      options.onBatchSplit,
      runCost,
    );
    const model = new LoadedModel(
      options.versionId,
      options.versionLocation,
      { name: options.name, version },
      options.variant,
      directory.config.synthetic !== undefined,
      quantization,
      sessions,
      tokenizer,
      batcher,
      runCost,
      options.onTokenized,
      options.narrow && configured.lanes > layout.lanes
        ? { directory, layout: configured, options }
        : undefined,
    );
    if (sessions.onTrial && soloTimes) model.trySoloLane(sessions.onTrial, soloTimes, options);
    return model;
  }

  /** Whether this is the registry version `ref` names: the same id at the same location (never MODEL_DIR). */
  isVersion(ref: ModelVersionRef): boolean {
    return (
      this.versionLocation !== undefined && this.versionId === ref.id && this.versionLocation === ref.location
    );
  }

  /** The packing policy's cost model for this graph on this machine (calibrated on a lane at load or widening). */
  get runCost(): LinearRunCost {
    return this.cost;
  }

  /** True while the model runs on the one session a narrow load opened and the layout configured has more. */
  get narrow(): boolean {
    return this.widening !== undefined;
  }

  /**
   * Opens the configured lanes beside the session of a narrow load, while that session goes on serving; then
   * runs go to the lanes, and the old session becomes the solo lane (it has every core) or, where the solo lane
   * is off or does not pay, is closed once its runs have ended. Nothing is refused or lost meanwhile. Gives up,
   * closing what it opened, when the model is retired or closed meanwhile or `superseded` says so (the model
   * stays narrow then, for a later call). True when the model was widened.
   */
  async widen(superseded: () => boolean = () => false): Promise<boolean> {
    const widening = this.widening;
    if (!widening || this.gone) return false;
    this.widening = undefined; // one widening at a time
    let widened = false;
    try {
      widened = await this.openLanes(widening, superseded);
    } finally {
      if (!widened && !this.gone) this.widening = widening;
    }
    return widened;
  }

  /** Retired or closed: no new sessions. */
  private get gone(): boolean {
    return this.closing !== undefined || this.closed;
  }

  private async openLanes(
    { directory, layout, options }: Widening,
    superseded: () => boolean,
  ): Promise<boolean> {
    const lanes = (await openSessions(directory, { ...layout, soloThreads: undefined }, options)).lanes;
    const abandon = async () => {
      await Promise.all(lanes.map((session) => session.close()));
      return false;
    };
    if (this.gone || superseded()) return abandon();
    const [whole] = this.sessions.lanes;
    const timeRun = runTimer(this.tokenizer);
    let runCost: LinearRunCost;
    let wholeVerdict: boolean | LoneRunTimes;
    try {
      // Timed while `whole` may be serving, as a load during a switch is timed while the old version serves:
      // the fastest of a few runs per shape keeps what that adds small (and a solo lane gets a trial).
      runCost = await calibrateLane(lanes[0], timeRun, options.batch);
      wholeVerdict = await judgeSoloLane(options, whole, lanes[0], timeRun);
    } catch (error) {
      await abandon();
      if (this.gone) return false; // `whole` was closed under the timing: retired meanwhile
      throw error;
    }
    if (this.gone || superseded()) return abandon();
    const keepWhole = wholeVerdict === true;
    const trialTimes = typeof wholeVerdict === 'boolean' ? undefined : wholeVerdict;
    this.sessions = { lanes, solo: keepWhole ? whole : undefined, onTrial: trialTimes && whole };
    this.cost = runCost;
    logCalibration(directory.dir, this.variant, layout, this.sessions, runCost);
    const run = runnerOf(this.tokenizer);
    const drained = this.batcher.replaceLanes(
      { lanes: lanes.map(run), solo: keepWhole ? run(whole) : undefined },
      runCost,
    );
    if (trialTimes) {
      await drained;
      if (!this.gone) this.trySoloLane(whole, trialTimes, options);
    } else if (!keepWhole) await drained.then(() => whole.close());
    return true;
  }

  /**
   * Keeps `session`, a solo lane that did not pay when judged, on trial (solo-lane-trial.ts): timed again when
   * the model is idle; it then becomes the solo lane, or is closed.
   */
  private trySoloLane(session: SentimentModel, atLoad: LoneRunTimes, options: SessionOptions): void {
    logger.log(
      `solo lane on trial: a lone run took ${describeTimes(atLoad)}; ` +
        'timed again when the model is idle (a busy core slows a run on every core most)',
    );
    const time = runTimer(this.tokenizer);
    this.soloTrial = new SoloLaneTrial(atLoad, {
      ...options.soloTrial,
      // Back to back, fastest of each: the first runs after an idle spell pay for waking the cores. Not while
      // another version computes beside this one (undefined: not counted, tried again).
      check: async () =>
        options.quietElsewhere?.() === false
          ? undefined
          : this.batcher.runWhileIdle(() =>
              timeLoneRuns(session, this.sessions.lanes[0], time, SOLO_CHECK_ROUNDS),
            ),
      whenIdle: () =>
        Promise.race([this.batcher.idle(), delay(SOLO_IDLE_WAIT_MS, undefined, { ref: false })]),
      onVerdict: (kept, fastest, error) => {
        this.soloTrial = undefined;
        if (this.gone) return; // closing: the session goes with the others
        this.sessions = { lanes: this.sessions.lanes, solo: kept ? session : undefined };
        if (kept) {
          this.batcher.setSolo(runnerOf(this.tokenizer)(session));
          logger.log(`solo lane kept after its trial: a lone run took ${describeTimes(fastest)}`);
          // Metrics only (the lanes' gauge): a failure there must not reach the trial's timer.
          try {
            options.onLanesChanged?.();
          } catch (reporting) {
            logger.warn(`reporting the solo lane: ${(reporting as Error).message}`);
          }
          return;
        }
        this.closingTrialSession = session
          .close()
          .catch((closing: Error) => logger.warn(`closing the solo lane: ${closing.message}`));
        if (error) logger.warn(`no solo lane: timing it failed (${error.message})`);
        else logger.log(`no solo lane after its trial: a lone run took ${describeTimes(fastest)}`);
      },
    });
  }

  /** Set once an inference thread that serves has died (one on trial serves nothing: its timing fails instead). */
  get broken(): Error | undefined {
    const { lanes, solo } = this.sessions;
    return [...lanes, solo].find((session) => session?.broken)?.broken;
  }

  /** Runs that compute at the same time (the lanes). */
  get lanes(): number {
    return this.sessions.lanes.length;
  }

  /** Whether a lone run goes to a session with every core. */
  get hasSoloLane(): boolean {
    return this.sessions.solo !== undefined;
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
    this.soloTrial?.stop();
    this.closing ??= this.idle().then(() =>
      Promise.all([closeSessions(this.sessions), this.closingTrialSession]).then(() => undefined),
    );
    return this.closing;
  }

  /** Closes at once (shutdown, or a model that never served). */
  async close(): Promise<void> {
    this.closed = true;
    this.soloTrial?.stop();
    await Promise.all([closeSessions(this.sessions), this.closingTrialSession]);
  }
}

function allSessions(sessions: Sessions): SentimentModel[] {
  return [...sessions.lanes, sessions.solo, sessions.onTrial].filter((session) => session !== undefined);
}

async function closeSessions(sessions: Sessions): Promise<void> {
  await Promise.all(allSessions(sessions).map((session) => session.close()));
}

/** Opens (and warms) a session per lane and the solo lane's; none is left open when one fails. */
async function openSessions(
  directory: ModelDirectory,
  layout: LaneLayout,
  options: SessionOptions,
): Promise<Sessions> {
  const open = (intraOpThreads: number) =>
    SentimentModel.open(directory, {
      intraOpThreads,
      allowSpinning: options.allowSpinning,
      niceness: options.niceness,
      warmup: true,
    });
  const wanted = [
    ...Array.from({ length: layout.lanes }, () => layout.threadsPerLane),
    ...(layout.soloThreads !== undefined && options.soloLane !== 'off' ? [layout.soloThreads] : []),
  ];
  const opened = await Promise.allSettled(wanted.map(open));
  const sessions = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = opened.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await Promise.all(sessions.map((session) => session.close()));
    throw failed.reason;
  }
  const problem = sessions.find((session) => session.priorityProblem)?.priorityProblem;
  if (problem) logger.warn(`inference threads keep the process's CPU priority (nice not set: ${problem})`);
  return { lanes: sessions.slice(0, layout.lanes), solo: sessions[layout.lanes] };
}

type RunTimer = (session: SentimentModel, texts: number, width: number) => Promise<number>;

/** Times a run of `texts` texts of `width` tokens on a session (compute time on its thread, in ms). */
function runTimer(tokenizer: SentimentTokenizer): RunTimer {
  const [bos, word, eos] = tokenizer.encode('the').ids;
  return async (session, texts, width) => {
    const ids = [bos, ...Array<number>(width - 2).fill(word), eos];
    return (await session.run(tokenizer.pad(Array.from({ length: texts }, () => ids)))).computeMs;
  };
}

function runnerOf(tokenizer: SentimentTokenizer) {
  return (session: SentimentModel) => async (sequences: number[][]) => session.run(tokenizer.pad(sequences));
}

/**
 * The packing policy's cost model: this graph's own run times on this machine, on a lane (about 2 s of runs
 * for RoBERTa-base on two cores, a few ms for a tiny graph).
 */
function calibrateLane(lane: SentimentModel, time: RunTimer, batch: BatchPolicy): Promise<LinearRunCost> {
  return calibrateRunCost(
    (texts, width) => time(lane, texts, width),
    calibrationShapes(batch),
    DEFAULT_RUN_COST,
  );
}

/** Most rounds of lone runs timed at load; the first that shows the solo lane paying ends them. */
const SOLO_JUDGING_ROUNDS = 8;
/** Rounds of lone runs, back to back, in one timing (at load, the first `SOLO_CHECK_ROUNDS` of the judging). */
const SOLO_CHECK_ROUNDS = 3;
/** How long a trial's timing that found the model busy waits for its next idle moment before giving up. */
const SOLO_IDLE_WAIT_MS = 1_000;

/**
 * Whether `solo` serves as the solo lane: `on` or `off`; or, `auto`, where a lone run (one text of 16 tokens,
 * the fastest of up to 8 rounds) is clearly faster on it than on a lane. Where it is not (one thread runs a lone
 * text as fast, e.g. int8 here, or a core was busy meanwhile), the times seen, for its trial.
 */
async function judgeSoloLane(
  options: Pick<LoadOptions, 'soloLane' | 'soloTrial'>,
  solo: SentimentModel,
  lane: SentimentModel,
  time: RunTimer,
): Promise<boolean | LoneRunTimes> {
  if (options.soloLane !== 'auto') return options.soloLane === 'on';
  const pays = options.soloTrial?.pays ?? soloLanePays;
  let fastest = await timeLoneRuns(solo, lane, time, SOLO_CHECK_ROUNDS);
  for (let round = SOLO_CHECK_ROUNDS; round < SOLO_JUDGING_ROUNDS; round++) {
    if (pays(fastest.soloMs, fastest.laneMs)) return true;
    fastest = fasterOf(fastest, await timeLoneRuns(solo, lane, time, 1));
  }
  return pays(fastest.soloMs, fastest.laneMs) || fastest;
}

/** The fastest of `rounds` lone runs (one text of 16 tokens) on each session, alternating. */
async function timeLoneRuns(
  solo: SentimentModel,
  lane: SentimentModel,
  time: RunTimer,
  rounds: number,
): Promise<LoneRunTimes> {
  const fastest = { soloMs: Infinity, laneMs: Infinity };
  for (let round = 0; round < rounds; round++) {
    fastest.soloMs = Math.min(fastest.soloMs, await time(solo, 1, 16));
    fastest.laneMs = Math.min(fastest.laneMs, await time(lane, 1, 16));
  }
  return fastest;
}

function describeTimes(times: LoneRunTimes): string {
  return `${times.soloMs.toFixed(1)} ms on every core, ${times.laneMs.toFixed(1)} ms on a lane`;
}

function logCalibration(
  where: string,
  variant: ModelVariant,
  layout: LaneLayout,
  sessions: Sessions,
  runCost: LinearRunCost,
): void {
  logger.log(
    `${where} (${variant}): ${describeLanes(layout, sessions)}; a run on a lane costs ` +
      `~${runCost.overheadMs.toFixed(1)} ms + ${runCost.perTokenMs.toFixed(3)} ms per padded token ` +
      `(calibrated; the packing policy's cost model)`,
  );
}

function describeLanes(layout: LaneLayout, sessions: Sessions): string {
  const lanes = describeLaneLayout(layout);
  return sessions.solo ? `${lanes} and a solo lane of ${layout.soloThreads}` : lanes;
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
