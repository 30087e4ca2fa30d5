import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SentimentTokenizer } from './sentiment-tokenizer';
import { preprocessTweet } from './preprocess';

// The real RoBERTa tokenizer files and TweetEval's tweets, read-only beside the repository.
const TOKENIZER_DIR = resolve(__dirname, '../../../../shared/data/roberta-tokenizer');
const TWEETEVAL = resolve(__dirname, '../../../../shared/data/tweeteval');

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

describe('encoding piece by piece', () => {
  let cached: SentimentTokenizer;
  let whole: SentimentTokenizer;
  beforeAll(async () => {
    cached = await SentimentTokenizer.fromDirectory(TOKENIZER_DIR);
    whole = await SentimentTokenizer.fromDirectory(TOKENIZER_DIR, { pieceCacheSize: 0 });
  });

  it('is on for the RoBERTa files and off when asked', () => {
    expect(cached.cachesPieces).toBe(true);
    expect(whole.cachesPieces).toBe(false);
  });

  it('encodes every TweetEval tweet as the library does on the whole text, twice over', async () => {
    const files = [
      'sentiment/test_text.txt',
      'sentiment/val_text.txt',
      'emotion/train_text.txt',
      'emotion/test_text.txt',
    ];
    const tweets = (await Promise.all(files.map((file) => readFile(join(TWEETEVAL, file), 'utf8'))))
      .flatMap((text) => text.split('\n'))
      .filter((tweet) => tweet.length > 0);
    expect(tweets.length).toBeGreaterThan(15_000);
    const expected = tweets.map((tweet) => whole.encode(tweet));
    // The second pass reads the pieces from the cache the first one filled.
    for (const pass of [1, 2]) {
      const differing = tweets.filter((tweet, i) => !sameEncoding(cached.encode(tweet), expected[i]));
      expect({ pass, differing: differing.slice(0, 3) }).toEqual({ pass, differing: [] });
    }
  });

  it.each([
    ['an empty text', ''],
    ['whitespace only', ' \t\n  '],
    ['runs of spaces between words', 'a   b \n\n c  '],
    ['contractions', "I'm sure they'll say it's what we'd've done"],
    ['a heart that is not an added token', 'love u <3 <3'],
    ['an added token inside a word', 'the<mask>sat and </s> then <pad>'],
    ['a lone surrogate and control characters', 'bad \ud800 half \u0000\u0007 end'],
    ['emoji, accents and other scripts', 'ça va 😊👍🏽 日本語 العربية ١٢٣'],
    ['digits and punctuation', '12,345.67!!! ...??? #tag $5'],
    ['a text past the token limit', 'word, '.repeat(600)],
    ['a piece too long to keep', `so ${'a'.repeat(300)}h ${'9'.repeat(300)} good`],
  ])('encodes %s as the library does', (_name, text) => {
    expect(cached.encode(text)).toEqual(whole.encode(text));
  });

  it('gives the same ids when the cache is too small to keep a text', async () => {
    const tiny = await SentimentTokenizer.fromDirectory(TOKENIZER_DIR, { pieceCacheSize: 2 });
    const text = 'one two three four one two three four';
    expect(tiny.encode(text)).toEqual(whole.encode(text));
    expect(tiny.encode(text)).toEqual(whole.encode(text));
  });

  it('refuses a cache size that is not a whole number', async () => {
    await expect(SentimentTokenizer.fromDirectory(TOKENIZER_DIR, { pieceCacheSize: -1 })).rejects.toThrow(
      'pieceCacheSize must be a whole number, got -1',
    );
  });

  describe('with a layout it does not know', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tokenizer-'));
      await copyFile(join(TOKENIZER_DIR, 'tokenizer_config.json'), join(dir, 'tokenizer_config.json'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    const withTokenizerJson = async (change: (json: Record<string, unknown>) => void) => {
      const json = JSON.parse(await readFile(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8'));
      change(json);
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(json));
      return SentimentTokenizer.fromDirectory(dir);
    };

    it('sends texts through the library whole when a normalizer changes them', async () => {
      const lowercasing = await withTokenizerJson((json) => {
        json['normalizer'] = { type: 'Lowercase' };
      });
      expect(lowercasing.cachesPieces).toBe(false);
      // Piece by piece would have skipped the normalizer and kept the capitals.
      expect(lowercasing.encode('Hello WORLD').ids).toEqual(whole.encode('hello world').ids);
      expect(lowercasing.encode('Hello WORLD').ids).not.toEqual(whole.encode('Hello WORLD').ids);
    });

    it('sends texts through the library whole when the pre-tokenizer adds a prefix space', async () => {
      const prefixed = await withTokenizerJson((json) => {
        (json['pre_tokenizer'] as Record<string, unknown>)['add_prefix_space'] = true;
      });
      expect(prefixed.cachesPieces).toBe(false);
      expect(prefixed.encode('Hello world').ids).toEqual(whole.encode(' Hello world').ids);
    });

    it('sends texts through the library whole for another post-processor', async () => {
      const templated = await withTokenizerJson((json) => {
        json['post_processor'] = null;
      });
      expect(templated.cachesPieces).toBe(false);
      // Without a post-processor the library adds no <s> and </s>.
      expect(templated.encode('Hello world').ids).toEqual([31414, 232]);
    });
  });
});

function sameEncoding(
  a: { ids: number[]; truncated: boolean },
  b: { ids: number[]; truncated: boolean },
): boolean {
  return (
    a.truncated === b.truncated && a.ids.length === b.ids.length && a.ids.every((id, i) => id === b.ids[i])
  );
}

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
