import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { LRUCache } from 'lru-cache';
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
  /**
   * Pre-tokens whose ids are kept (default 100,000, a few MB); 0 sends every text through the library whole.
   * Only used for tokenizers laid out like RoBERTa's (see `piecewiseLayout`).
   */
  pieceCacheSize?: number;
}

interface SpecialIds {
  bos: number;
  eos: number;
  pad: number;
}

const DEFAULT_PIECE_CACHE_SIZE = 100_000;
/** Longer pieces are encoded but not kept, so hostile texts cannot fill the cache with huge keys (the library's bound too). */
const MAX_CACHED_PIECE_LENGTH = 256;

/** The byte-level pre-tokenizer's split (GPT-2's pattern, as @huggingface/tokenizers applies it). */
const BYTE_LEVEL_PIECE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * The RoBERTa BPE tokenizer with what @huggingface/tokenizers leaves to the caller: the model card's
 * preprocessing, truncation to the model's limit (keeping <s> first and </s> last) and padding.
 *
 * Texts are encoded piece by piece where the layout allows it: split like the byte-level pre-tokenizer,
 * each piece's ids kept in an LRU cache, the library asked only for pieces it has not seen. The library's
 * own word cache cannot do this: it still byte-maps every word of every text, and its LRU (a Map entry
 * deleted and re-set on every hit) costs more than the merges it saves, about 130 µs a tweet against 8.
 */
export class SentimentTokenizer {
  readonly maxTokens: number;
  readonly padId: number;
  /** True when texts are encoded piece by piece through the piece cache. */
  readonly cachesPieces: boolean;
  private readonly special: SpecialIds;
  private readonly preprocess: boolean;
  private readonly pieceIds?: LRUCache<string, readonly number[]>;
  /** Texts holding one of these go through the library whole (added tokens are split before the pre-tokenizer). */
  private readonly addedTokens: readonly string[];

  private constructor(
    private readonly tokenizer: Tokenizer,
    special: SpecialIds,
    layout: TokenizerLayout,
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
    const cacheSize = options.pieceCacheSize ?? DEFAULT_PIECE_CACHE_SIZE;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new RangeError(`pieceCacheSize must be a whole number, got ${cacheSize}`);
    }
    this.addedTokens = layout.addedTokens;
    this.cachesPieces = cacheSize > 0 && piecewiseLayout(layout, special);
    if (this.cachesPieces) this.pieceIds = new LRUCache({ max: cacheSize });
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
    return new SentimentTokenizer(tokenizer, special, layoutOf(tokenizerJson, tokenizerConfig), options);
  }

  encode(text: string): EncodedText {
    const input = this.preprocess ? preprocessTweet(text) : text;
    const ids =
      this.pieceIds && !this.holdsAddedToken(input)
        ? this.encodePieces(input, this.pieceIds)
        : this.tokenizer.encode(input).ids;
    if (ids.length <= this.maxTokens) return { ids, truncated: false };
    // The library has no truncation: cut the middle and keep </s> as the last id.
    const cut = ids.slice(0, this.maxTokens - 1);
    cut.push(this.special.eos);
    return { ids: cut, truncated: true };
  }

  private holdsAddedToken(text: string): boolean {
    return this.addedTokens.some((token) => text.includes(token));
  }

  /** <s>, each piece's ids, </s>: what RobertaProcessing makes of the pre-tokens' BPE. */
  private encodePieces(text: string, cache: LRUCache<string, readonly number[]>): number[] {
    const ids = [this.special.bos];
    for (const [piece] of text.matchAll(BYTE_LEVEL_PIECE)) {
      let pieceIds = cache.get(piece);
      if (pieceIds === undefined) {
        pieceIds = this.tokenizer.encode(piece, { add_special_tokens: false }).ids;
        if (piece.length < MAX_CACHED_PIECE_LENGTH) cache.set(piece, pieceIds);
      }
      for (const id of pieceIds) ids.push(id);
    }
    ids.push(this.special.eos);
    return ids;
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

/** What decides whether a tokenizer can be encoded piece by piece, read from its files. */
interface TokenizerLayout {
  normalizer: unknown;
  preTokenizer: Record<string, unknown> | null;
  postProcessor: Record<string, unknown> | null;
  model: Record<string, unknown> | null;
  /** tokenizer_config.json settings the library applies to the text before pre-tokenizing. */
  textSettings: unknown[];
  addedTokens: string[];
}

function layoutOf(tokenizerJson: Record<string, unknown>, config: Record<string, unknown>): TokenizerLayout {
  const objectOrNull = (value: unknown) =>
    value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  const added = Array.isArray(tokenizerJson['added_tokens']) ? tokenizerJson['added_tokens'] : [];
  return {
    normalizer: tokenizerJson['normalizer'],
    preTokenizer: objectOrNull(tokenizerJson['pre_tokenizer']),
    postProcessor: objectOrNull(tokenizerJson['post_processor']),
    model: objectOrNull(tokenizerJson['model']),
    textSettings: [config['remove_space'], config['do_lowercase_and_remove_accent']],
    addedTokens: added
      .map((token) => objectOrNull(token)?.['content'])
      .filter((content): content is string => typeof content === 'string' && content.length > 0),
  };
}

/**
 * True for RoBERTa's layout, where a text's ids are <s>, the BPE of each byte-level piece, </s>: no
 * normalizer, the byte-level pre-tokenizer with its regex and no prefix space, RobertaProcessing around
 * the bos and eos ids, plain BPE. Anything else goes through the library whole.
 */
function piecewiseLayout(layout: TokenizerLayout, special: SpecialIds): boolean {
  const { normalizer, preTokenizer: pre, postProcessor: post, model } = layout;
  const idOf = (pair: unknown) => (Array.isArray(pair) ? pair[1] : undefined);
  return (
    (normalizer === null || normalizer === undefined) &&
    pre?.['type'] === 'ByteLevel' &&
    pre['add_prefix_space'] === false &&
    pre['use_regex'] !== false &&
    post?.['type'] === 'RobertaProcessing' &&
    post['add_prefix_space'] !== true &&
    idOf(post['cls']) === special.bos &&
    idOf(post['sep']) === special.eos &&
    model?.['type'] === 'BPE' &&
    (model['dropout'] === null || model['dropout'] === undefined) &&
    layout.textSettings.every((setting) => !setting)
  );
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
