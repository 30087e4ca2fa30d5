import { createHash } from 'node:crypto';
import type { LabelledExample, SentimentLabel } from '@reputation-monitor/contracts';
import {
  BATCH_ID_PATTERN,
  DatasetError,
  buildManifest,
  countExamples,
  decodeManifest,
  decodeShard,
  emptyCounts,
  encodeManifest,
  encodeShard,
  newBatchId,
  nextShardPath,
  shardInfo,
  shardPath,
  sumCounts,
  verifyShard,
} from './manifest';

function example(text: string, label: SentimentLabel, at: number, source = 'twitter'): LabelledExample {
  const id = createHash('sha256').update(text).digest('hex').slice(0, 32);
  return { id, text, label, source, origin: 'import', at };
}

const examples = [
  example('third', 'neutral', 3_000, ''),
  example('first "quoted"\nline', 'positive', 1_000),
  example('second', 'negative', 2_000, 'support'),
];
const sha256 = (content: Buffer) => createHash('sha256').update(content).digest('hex');

describe('shard codec', () => {
  it('encodes one example per line, oldest first, and decodes back the same examples', () => {
    const content = encodeShard(examples);
    const lines = content.toString('utf8').split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe(''); // newline-terminated
    const decoded = decodeShard(content, 'data/x.jsonl');
    expect(decoded).toEqual([examples[1], examples[2], examples[0]]);
    expect(encodeShard(decoded)).toEqual(content); // stable bytes, so stable hashes
    expect(encodeShard([])).toEqual(Buffer.alloc(0));
    expect(decodeShard(Buffer.alloc(0), 'data/empty.jsonl')).toEqual([]);
  });

  it('names the file and line of a record it cannot read', () => {
    const good = encodeShard([examples[1]]).toString('utf8');
    const badJson = Buffer.from(`${good}{"id": nope}\n`);
    expect(() => decodeShard(badJson, 'data/a.jsonl')).toThrow(DatasetError);
    expect(() => decodeShard(badJson, 'data/a.jsonl')).toThrow(/^data\/a\.jsonl line 2: not JSON/);

    const badLabel = Buffer.from(good + good.replace('"positive"', '"Positive"'));
    expect(() => decodeShard(badLabel, 'data/b.jsonl')).toThrow(
      /^data\/b\.jsonl line 2: label must be one of/,
    );
    const blankLine = Buffer.from(`\n${good}`);
    expect(() => decodeShard(blankLine, 'data/c.jsonl')).toThrow(/^data\/c\.jsonl line 1: /);
  });
});

describe('counts', () => {
  it('counts examples by label and source, with their time range', () => {
    expect(countExamples(examples)).toEqual({
      examples: 3,
      byLabel: { negative: 1, neutral: 1, positive: 1 },
      bySource: { twitter: 1, support: 1, '': 1 },
      timeRange: { from: 1_000, to: 3_000 },
    });
    expect(countExamples([])).toEqual(emptyCounts());
    expect(emptyCounts().timeRange).toBeNull();
  });

  it('counts sources named like object properties as any other', () => {
    const named = ['constructor', '__proto__', 'toString', 'constructor'].map((source, i) => ({
      ...examples[0],
      id: `${i}`.padStart(32, '0'),
      source,
    }));
    const counts = sumCounts([countExamples(named.slice(0, 2)), countExamples(named.slice(2))]);
    expect(Object.entries(counts.bySource)).toEqual([
      ['constructor', 2],
      ['__proto__', 1],
      ['toString', 1],
    ]);
  });

  it('sums shard counts, skipping empty shards in the time range', () => {
    const total = sumCounts([
      countExamples(examples.slice(0, 1)),
      emptyCounts(),
      countExamples(examples.slice(1)),
    ]);
    expect(total).toEqual(countExamples(examples));
  });
});

describe('manifest', () => {
  const batchId = '20260101T000000000Z-abcdef';

  it('describes a shard by path, hash, size, batch and counts', () => {
    const content = encodeShard(examples);
    const info = shardInfo(shardPath(batchId), batchId, content, examples);
    expect(info).toEqual({
      path: `data/${batchId}.jsonl`,
      sha256: sha256(content),
      bytes: content.length,
      batchId,
      ...countExamples(examples),
    });
    expect(shardInfo(shardPath(batchId, 2), batchId, content, examples, info.path).supersedes).toBe(
      info.path,
    );
  });

  it('round-trips through its JSON encoding with totals over the shards', () => {
    const a = encodeShard(examples.slice(0, 2));
    const b = encodeShard(examples.slice(2));
    const manifest = buildManifest(
      [
        shardInfo(shardPath(batchId), batchId, a, examples.slice(0, 2)),
        shardInfo(
          shardPath('20260102T000000000Z-abcdef'),
          '20260102T000000000Z-abcdef',
          b,
          examples.slice(2),
        ),
      ],
      [{ id: 'abc', at: '2026-01-03T00:00:00.000Z', reason: 'asked', shards: [] }],
      'test',
      new Date('2026-01-04T00:00:00Z'),
    );
    expect(manifest.totals).toEqual(countExamples(examples));
    expect(manifest.createdAt).toBe('2026-01-04T00:00:00.000Z');
    const bytes = encodeManifest(manifest);
    expect(bytes.toString('utf8').endsWith('}\n')).toBe(true);
    expect(decodeManifest(bytes, 'here')).toEqual(manifest);
  });

  it('says where and what is wrong with a manifest it cannot use', () => {
    expect(() => decodeManifest(Buffer.from('{'), 'store@rev manifest.json')).toThrow(
      /^store@rev manifest.json is not JSON/,
    );
    expect(() => decodeManifest(Buffer.from('{"format":2}'), 'm')).toThrow('m has format 2, expected 1');
    expect(() => decodeManifest(Buffer.from('{"format":1,"shards":[]}'), 'm')).toThrow(
      'm lacks its shards or deletions list',
    );
    const badShard = JSON.stringify({
      format: 1,
      shards: [{ path: 'data/x.jsonl', sha256: 'short', batchId: 'b' }],
      deletions: [],
    });
    expect(() => decodeManifest(Buffer.from(badShard), 'm')).toThrow(
      'm shards[0] lacks a path, sha256 or batch id',
    );
  });

  it('verifies a shard against its manifest entry', () => {
    const content = encodeShard(examples);
    const info = shardInfo(shardPath(batchId), batchId, content, examples);
    expect(() => verifyShard(info, content)).not.toThrow();
    const changed = Buffer.from(content);
    changed[10] ^= 1;
    expect(() => verifyShard(info, changed)).toThrow(DatasetError);
    expect(() => verifyShard(info, changed)).toThrow(`data/${batchId}.jsonl does not match the manifest`);
    expect(() => verifyShard(info, content.subarray(1))).toThrow(
      `expected ${info.sha256.slice(0, 12)}…, ${content.length} bytes`,
    );
  });
});

describe('batch ids and shard paths', () => {
  it('makes batch ids that sort by time', () => {
    const early = newBatchId(new Date('2026-11-29T19:00:00.123Z'));
    expect(early).toMatch(BATCH_ID_PATTERN);
    expect(early.startsWith('20261129T190000123Z-')).toBe(true);
    expect(newBatchId(new Date('2026-11-29T19:00:01Z')) > early).toBe(true);
  });

  it('versions a shard each time examples are deleted from it', () => {
    const content = encodeShard(examples);
    const v1 = shardInfo(shardPath('b'), 'b', content, examples);
    expect(v1.path).toBe('data/b.jsonl');
    const v2 = shardInfo(nextShardPath(v1), 'b', content, examples, v1.path);
    expect(v2.path).toBe('data/b.v2.jsonl');
    expect(nextShardPath(v2)).toBe('data/b.v3.jsonl');
  });
});
