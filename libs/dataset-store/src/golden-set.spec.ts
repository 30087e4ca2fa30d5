import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoldenSetError, loadGoldenSet, parseGoldenJsonl, parseGoldenPair } from './golden-set';

describe('golden set files', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'golden-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads JSONL with labels as names (any case) or indexes, up to the limit', () => {
    const path = join(dir, 'golden.jsonl');
    writeFileSync(
      path,
      [
        '{"text":"great","label":"Positive"}',
        '',
        '{"text":"awful","label":0}',
        '{"text":"a fact","label":"1"}',
        '{"text":"not read","label":"neutral"}',
      ].join('\n') + '\n',
    );
    expect(loadGoldenSet(path, 3)).toEqual([
      { text: 'great', label: 'positive' },
      { text: 'awful', label: 'negative' },
      { text: 'a fact', label: 'neutral' },
    ]);
  });

  it("reads TweetEval's text + labels pair", () => {
    writeFileSync(join(dir, 'val_text.txt'), 'first tweet \nsecond tweet\r\nthird\n');
    writeFileSync(join(dir, 'val_labels.txt'), '2\n0\n1\n');
    expect(loadGoldenSet(`${join(dir, 'val_text.txt')}, ${join(dir, 'val_labels.txt')}`, 10)).toEqual([
      { text: 'first tweet ', label: 'positive' },
      { text: 'second tweet', label: 'negative' },
      { text: 'third', label: 'neutral' },
    ]);
  });

  it('names the file and every bad line', () => {
    expect(() =>
      parseGoldenJsonl(
        '{"text":"ok","label":"positive"}\nnot json\n{"text":" ","label":1}\n{"text":"x","label":"angry"}',
        'g.jsonl',
      ),
    ).toThrow(
      new GoldenSetError(
        'golden set g.jsonl has bad lines:\n' +
          '  - line 2: not JSON\n' +
          '  - line 3: text must not be empty or only whitespace\n' +
          '  - line 4: label "angry" is not negative, neutral, positive or 0, 1, 2',
      ),
    );
  });

  it('refuses a pair whose files differ in length, an empty set and a missing file', () => {
    expect(() => parseGoldenPair('a\nb\n', '1\n', ['t.txt', 'l.txt'])).toThrow('2 texts but 1 labels');
    expect(() => parseGoldenJsonl('\n\n', 'empty.jsonl')).toThrow('golden set empty.jsonl is empty');
    expect(() => loadGoldenSet(join(dir, 'missing.jsonl'), 10)).toThrow(
      /cannot read golden set file .*missing\.jsonl/,
    );
    expect(() => loadGoldenSet('a,b,c', 10)).toThrow('got 3 paths');
  });
});
