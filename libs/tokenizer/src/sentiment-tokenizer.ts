import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { MODEL_MAX_TOKENS } from '@reputation-monitor/contracts';
import { preprocessTweet } from './preprocess';

export interface EncodedText {
  /** Token ids including <s> and </s>, at most `maxTokens` long. */
  ids: number[];
  /** True when the text was longer than the model's limit and its tail was cut. */
  truncated: boolean;
}

export interface PaddedBatch {
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  batchSize: number;
  sequenceLength: number;
  /** Real (unpadded) tokens in the batch. */
  realTokens: number;
  /** Pad tokens added to make the batch rectangular. */
  padTokens: number;
}

export interface TokenizerOptions {
  /** Upper bound on ids per text, including <s> and </s>. Defaults to the model's 512. */
  maxTokens?: number;
  /** Apply the model card's @user/http preprocessing (default true). */
  preprocess?: boolean;
}

interface SpecialIds {
  bos: number;
  eos: number;
  pad: number;
}

/**
 * The RoBERTa BPE tokenizer with what @huggingface/tokenizers leaves to the caller: the model card's
 * preprocessing, truncation to the model's limit (keeping <s> first and </s> last) and padding.
 */
export class SentimentTokenizer {
  readonly maxTokens: number;
  readonly padId: number;
  private readonly special: SpecialIds;
  private readonly preprocess: boolean;

  private constructor(
    private readonly tokenizer: Tokenizer,
    special: SpecialIds,
    options: TokenizerOptions,
  ) {
    this.special = special;
    this.padId = special.pad;
    this.preprocess = options.preprocess ?? true;
    this.maxTokens = options.maxTokens ?? MODEL_MAX_TOKENS;
    if (!Number.isInteger(this.maxTokens) || this.maxTokens < 3 || this.maxTokens > MODEL_MAX_TOKENS) {
      throw new RangeError(
        `maxTokens must be an integer from 3 to ${MODEL_MAX_TOKENS}, got ${this.maxTokens}`,
      );
    }
  }

  /** Loads `tokenizer.json` and (when present) `tokenizer_config.json` from a model or tokenizer folder. */
  static async fromDirectory(dir: string, options: TokenizerOptions = {}): Promise<SentimentTokenizer> {
    const tokenizerJson = await readJson(join(dir, 'tokenizer.json'), true);
    const tokenizerConfig = (await readJson(join(dir, 'tokenizer_config.json'), false)) ?? {};
    const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const idOf = (key: string, fallback: string): number => {
      const token = typeof tokenizerConfig[key] === 'string' ? (tokenizerConfig[key] as string) : fallback;
      const id = tokenizer.token_to_id(token);
      if (id === undefined) throw new Error(`${dir}: ${key} "${token}" is not in the vocabulary`);
      return id;
    };
    const special = {
      bos: idOf('bos_token', '<s>'),
      eos: idOf('eos_token', '</s>'),
      pad: idOf('pad_token', '<pad>'),
    };
    return new SentimentTokenizer(tokenizer, special, options);
  }

  encode(text: string): EncodedText {
    const input = this.preprocess ? preprocessTweet(text) : text;
    const ids = this.tokenizer.encode(input).ids;
    if (ids.length <= this.maxTokens) return { ids, truncated: false };
    // The library has no truncation: cut the middle and keep </s> as the last id.
    const cut = ids.slice(0, this.maxTokens - 1);
    cut.push(this.special.eos);
    return { ids: cut, truncated: true };
  }

  decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skip_special_tokens: true });
  }

  /** Right-pads sequences to the longest one with the pad id (mask 0), as the model expects. */
  pad(sequences: readonly number[][]): PaddedBatch {
    if (sequences.length === 0) throw new RangeError('cannot pad an empty batch');
    const sequenceLength = Math.max(...sequences.map((ids) => ids.length));
    const batchSize = sequences.length;
    const inputIds = new BigInt64Array(batchSize * sequenceLength).fill(BigInt(this.padId));
    const attentionMask = new BigInt64Array(batchSize * sequenceLength);
    let realTokens = 0;
    sequences.forEach((ids, row) => {
      const offset = row * sequenceLength;
      for (let i = 0; i < ids.length; i++) {
        inputIds[offset + i] = BigInt(ids[i]);
        attentionMask[offset + i] = 1n;
      }
      realTokens += ids.length;
    });
    return {
      inputIds,
      attentionMask,
      batchSize,
      sequenceLength,
      realTokens,
      padTokens: batchSize * sequenceLength - realTokens,
    };
  }
}

async function readJson(path: string, required: true): Promise<Record<string, unknown>>;
async function readJson(path: string, required: false): Promise<Record<string, unknown> | undefined>;
async function readJson(path: string, required: boolean): Promise<Record<string, unknown> | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (error) {
    if (!required && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}
