import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SentimentTokenizer } from './sentiment-tokenizer';
import { preprocessTweet } from './preprocess';

// The real RoBERTa tokenizer files, read-only beside the repository.
const TOKENIZER_DIR = resolve(__dirname, '../../../../shared/data/roberta-tokenizer');

describe('SentimentTokenizer with the real RoBERTa files', () => {
  let tokenizer: SentimentTokenizer;
  beforeAll(async () => {
    tokenizer = await SentimentTokenizer.fromDirectory(TOKENIZER_DIR);
  });

  // Expected ids come from MODEL_FACTS.md (and transformers' / tokenizers' own tests).
  it.each([
    ['This is an example', [0, 713, 16, 41, 1246, 2]],
    ['Hello world! cécé herlolip', [0, 31414, 232, 328, 740, 1140, 12695, 69, 46078, 1588, 2]],
    ['Hello world', [0, 31414, 232, 2]],
    ['Good night 😊', [0, 12350, 363, 17841, 27969, 2]],
    ['the <mask> sat', [0, 627, 50264, 4005, 2]],
  ])('encodes %j as the published ids', (text, ids) => {
    expect(tokenizer.encode(text)).toEqual({ ids, truncated: false });
  });

  it('reads the special ids from the config', () => {
    expect(tokenizer.padId).toBe(1);
    expect(tokenizer.maxTokens).toBe(512);
  });

  it('applies the model card preprocessing before encoding', () => {
    expect(tokenizer.encode('@bob hi https://t.co/x').ids).toEqual(tokenizer.encode('@user hi http').ids);
  });

  it('truncates to 512 ids keeping <s> first and </s> last, and says so', () => {
    const long = 'word '.repeat(1000);
    const { ids, truncated } = tokenizer.encode(long);
    expect(truncated).toBe(true);
    expect(ids).toHaveLength(512);
    expect(ids[0]).toBe(0);
    expect(ids[511]).toBe(2);
    expect(ids.slice(1, 511).every((id) => id !== 2 && id !== 0)).toBe(true);
  });

  it('does not truncate a text of exactly the limit', () => {
    // "Hello" + 509 x " world" = 510 content ids + 2 specials.
    const text = 'Hello' + ' world'.repeat(509);
    const { ids, truncated } = tokenizer.encode(text);
    expect(ids).toHaveLength(512);
    expect(truncated).toBe(false);
  });

  it('honours a lower token limit', async () => {
    const short = await SentimentTokenizer.fromDirectory(TOKENIZER_DIR, { maxTokens: 4 });
    expect(short.encode('Hello world! cécé')).toEqual({ ids: [0, 31414, 232, 2], truncated: true });
    await expect(SentimentTokenizer.fromDirectory(TOKENIZER_DIR, { maxTokens: 513 })).rejects.toThrow(
      'maxTokens must be an integer from 3 to 512, got 513',
    );
  });

  it('right-pads a batch with the pad id and a zero mask', () => {
    const batch = tokenizer.pad([
      [0, 31414, 232, 2],
      [0, 5, 2],
    ]);
    expect(batch.batchSize).toBe(2);
    expect(batch.sequenceLength).toBe(4);
    expect(Array.from(batch.inputIds, Number)).toEqual([0, 31414, 232, 2, 0, 5, 2, 1]);
    expect(Array.from(batch.attentionMask, Number)).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
    expect(batch.realTokens).toBe(7);
    expect(batch.padTokens).toBe(1);
    expect(() => tokenizer.pad([])).toThrow('cannot pad an empty batch');
  });

  it('round-trips text through decode', () => {
    expect(tokenizer.decode(tokenizer.encode('Good night 😊').ids)).toBe('Good night 😊');
  });
});

describe('loading errors', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tokenizer-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('names the missing tokenizer.json', async () => {
    await expect(SentimentTokenizer.fromDirectory(dir)).rejects.toThrow(
      `cannot read ${join(dir, 'tokenizer.json')}`,
    );
  });

  it('names a file that is not JSON', async () => {
    await writeFile(join(dir, 'tokenizer.json'), '{ not json');
    await expect(SentimentTokenizer.fromDirectory(dir)).rejects.toThrow(
      `${join(dir, 'tokenizer.json')} is not valid JSON`,
    );
  });
});

describe('preprocessTweet', () => {
  it('masks mentions and links and keeps everything else', () => {
    expect(preprocessTweet('@alice thanks! see http://x.co/1\n@bob')).toBe('@user thanks! see http\n@user');
    expect(preprocessTweet('@ alone stays, so does mail@host')).toBe('@ alone stays, so does mail@host');
    expect(preprocessTweet('  spaced   out  ')).toBe('  spaced   out  ');
  });
});
