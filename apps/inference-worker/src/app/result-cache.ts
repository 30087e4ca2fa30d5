import { createHash } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { SENTIMENT_LABELS, SentimentLabel, redisKeys } from '@reputation-monitor/contracts';
import { CappedHashRing } from '@reputation-monitor/redis-connection';
import { preprocessTweet } from '@reputation-monitor/tokenizer';
import type { TextScore } from './loaded-model';
import type { CacheLookupOutcome, CacheOperation } from './worker-metrics';

/** What the cache reports; WorkerMetrics implements it. */
export interface ResultCacheEvents {
  cacheLookedUp(outcome: CacheLookupOutcome, texts: number): void;
  cacheFailed(operation: CacheOperation): void;
  textsDeduplicated(texts: number): void;
}

export interface ResultCacheOptions {
  /** The queue prefix, so a deployment (or a test run) only ever sees its own entries. */
  prefix: string;
  /**
   * Seconds an entry lives at least, unless `maxEntries` newer ones push it out first. 0 turns duplicate
   * handling off altogether (no Redis, no sharing in flight): every text is computed, as before the cache,
   * which is also the baseline to measure the cache against.
   */
  ttlSeconds: number;
  /** Most entries kept (a capped ring of hashes: the oldest eighth is dropped when it is full). */
  maxEntries: number;
  /** The tokenizer's limit per text: part of the hash, since it decides the ids of long texts. */
  maxTokens: number;
}

/** Scores texts that were not found; one call per job, with each distinct text once. */
export type ComputeScores = (texts: string[]) => Promise<TextScore[]>;

/** A Redis outage fails every job's lookup: say so once a minute, not once a job (the metric counts them all). */
const WARNING_INTERVAL_MS = 60_000;

/**
 * The hash a text is cached under: sha256 of the text exactly as the tokenizer receives it, which is the
 * model card's preprocessing (`preprocessTweet`: mentions -> `@user`, links -> `http`) and nothing else.
 * No trimming, case folding or Unicode normalisation: RoBERTa's byte-level BPE has no normalizer, so a
 * leading or doubled space, a capital or a decomposed accent gives other token ids and other scores.
 * Equal hashes therefore mean equal model input; MAX_TOKENS is hashed too because it decides where long
 * texts are cut. (The worker's tokenizer always preprocesses; the engine never turns that off.)
 */
export function resultCacheHash(text: string, maxTokens: number): string {
  return createHash('sha256')
    .update(`${maxTokens}\n${preprocessTweet(text)}`)
    .digest('hex');
}

/** Every field of a computed score (the model is in the key), so a hit is indistinguishable from a run. */
export function encodeCachedScore(score: TextScore): string {
  const { label, scores, tokens, truncated } = score;
  const { negative, neutral, positive } = scores;
  // JSON keeps a double's exact value: a hit returns the very numbers the model produced.
  return JSON.stringify({ label, scores: { negative, neutral, positive }, tokens, truncated });
}

/** The cached score, or undefined for anything that is not one (counted as a miss and overwritten). */
export function decodeCachedScore(raw: string): TextScore | undefined {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { label, scores, tokens, truncated } = value as Record<string, unknown>;
  if (typeof scores !== 'object' || scores === null) return undefined;
  const { negative, neutral, positive } = scores as Record<string, unknown>;
  const finite = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);
  if (
    !SENTIMENT_LABELS.includes(label as SentimentLabel) ||
    !finite(negative) ||
    !finite(neutral) ||
    !finite(positive) ||
    !Number.isInteger(tokens) ||
    typeof truncated !== 'boolean'
  ) {
    return undefined;
  }
  return {
    label: label as SentimentLabel,
    scores: { negative, neutral, positive },
    tokens: tokens as number,
    truncated,
  };
}

/**
 * The duplicate-result cache, in front of the micro-batcher. It lives in the worker because only the
 * worker knows which model version computed a result, and that version is part of the key.
 *
 * The entries live in a capped ring of hashes (CappedHashRing), so the cache holds at most `maxEntries`
 * whatever the traffic. Per job: one lookup (a script reading the ring's buckets) for its distinct texts;
 * the misses go to inference once each (a text already being computed for another job, or twice in this
 * one, waits for that computation instead); the computed results go back with one write. Redis failing on
 * this path never fails a job: the texts are computed as if the cache were empty, and the failure is counted.
 */
export class ResultCache {
  private readonly logger = new Logger(ResultCache.name);
  /** Texts being computed, by cache key, until their result is stored (so nobody computes them twice). */
  private readonly inFlight = new Map<string, Promise<TextScore>>();
  private lastWarningAt = -Infinity;
  private readonly ring: CappedHashRing | undefined;

  constructor(
    redis: Redis,
    private readonly options: ResultCacheOptions,
    private readonly events: ResultCacheEvents,
  ) {
    this.ring =
      options.ttlSeconds > 0
        ? new CappedHashRing(redis, {
            key: redisKeys.resultCache(options.prefix),
            limits: { maxEntries: options.maxEntries, retainMs: options.ttlSeconds * 1000 },
          })
        : undefined;
  }

  get enabled(): boolean {
    return this.options.ttlSeconds > 0;
  }

  /** Scores for each text, in order: from the cache, from an identical text in flight, or from `compute`. */
  async score(modelVersion: string, texts: readonly string[], compute: ComputeScores): Promise<TextScore[]> {
    if (!this.enabled) return compute([...texts]);
    const keys = texts.map((text) =>
      redisKeys.resultCacheField(modelVersion, resultCacheHash(text, this.options.maxTokens)),
    );
    // Each distinct key once, with its first text (equal keys mean equal model input).
    const distinct = new Map<string, string>();
    keys.forEach((key, index) => distinct.has(key) || distinct.set(key, texts[index]));
    const cached = await this.lookup([...distinct.keys()], keys);

    // Checked after the lookup's await, so a text another job started meanwhile is joined, not recomputed.
    const results = new Map<string, TextScore | Promise<TextScore>>(cached);
    const owned: Array<[key: string, text: string]> = [];
    for (const [key, text] of distinct) {
      if (results.has(key)) continue;
      const running = this.inFlight.get(key);
      if (running) results.set(key, running);
      else owned.push([key, text]);
    }
    const notCached = keys.filter((key) => !cached.has(key)).length;
    this.events.textsDeduplicated(notCached - owned.length);

    const computed = owned.length > 0 ? compute(owned.map(([, text]) => text)) : undefined;
    owned.forEach(([key], index) => {
      const one = (computed as Promise<TextScore[]>).then((scores) => scores[index]);
      results.set(key, one);
      this.inFlight.set(key, one);
    });
    try {
      const scored = await Promise.all(keys.map((key) => results.get(key) as TextScore | Promise<TextScore>));
      if (computed) {
        // Awaited (one pipelined round trip) so a job's result is out only once a resend of it can hit.
        const fresh = await computed;
        await this.store(owned.map(([key], index) => [key, fresh[index]]));
      }
      return scored;
    } finally {
      for (const [key] of owned) this.inFlight.delete(key);
    }
  }

  /** The cached scores found among `distinct`, by key; `keys` (one per text) are what the metric counts. */
  private async lookup(distinct: string[], keys: string[]): Promise<Map<string, TextScore>> {
    const found = new Map<string, TextScore>();
    let values: Array<string | undefined>;
    try {
      values = await (this.ring as CappedHashRing).get(distinct);
    } catch (error) {
      this.events.cacheLookedUp('error', keys.length);
      this.failed('lookup', error as Error);
      return found;
    }
    values.forEach((value, index) => {
      const score = value === undefined ? undefined : decodeCachedScore(value);
      if (score) found.set(distinct[index], score);
    });
    // Per text (a text twice in one job is two hits), so hit / all outcomes is the share of texts served.
    const hits = keys.filter((key) => found.has(key)).length;
    this.events.cacheLookedUp('hit', hits);
    this.events.cacheLookedUp('miss', keys.length - hits);
    return found;
  }

  private async store(entries: Array<[string, TextScore]>): Promise<void> {
    try {
      await (this.ring as CappedHashRing).add(entries.map(([key, score]) => [key, encodeCachedScore(score)]));
    } catch (error) {
      this.failed('store', error as Error);
    }
  }

  private failed(operation: CacheOperation, error: Error): void {
    this.events.cacheFailed(operation);
    const now = Date.now();
    if (now - this.lastWarningAt < WARNING_INTERVAL_MS) return;
    this.lastWarningAt = now;
    this.logger.warn(`result cache ${operation} failed, going on without the cache: ${error.message}`);
  }
}
