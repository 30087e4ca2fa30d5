import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import IORedis from 'ioredis';
import type { LabelledExample } from '@reputation-monitor/contracts';
import { DatasetStore, LocalDatasetBackend, newBatchId } from '@reputation-monitor/dataset-store';
import { ExampleBuffer, exampleId } from '@reputation-monitor/prediction-store';
import { DatasetExporter } from './dataset-exporter';
import type { DriftConfig } from './drift-config';

// Real Redis (a key prefix per run) and a real dataset store in a temporary directory.
const redis = new IORedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `test-exporter-${process.pid}-${Date.now().toString(36)}`;
const config = { dataset: { minExamples: 1_000, maxWaitHours: 24 } } as unknown as DriftConfig;

function example(text: string): LabelledExample {
  return { id: exampleId(text), text, label: 'positive', source: '', origin: 'feedback', at: Date.now() };
}

let dir: string;
let buffer: ExampleBuffer;
let exporter: DatasetExporter;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dataset-exporter-'));
  buffer = new ExampleBuffer(redis, { prefix: `${prefix}-${Math.random()}`, ttlSeconds: 3_600 });
  exporter = new DatasetExporter(
    buffer,
    new DatasetStore(new LocalDatasetBackend(join(dir, 'store'))),
    config,
  );
});

afterEach(() => rm(dir, { recursive: true, force: true }));

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

it('a forced export finishes an earlier run’s batch and then exports the examples pending behind it', async () => {
  await buffer.add([example('taken by a run that died'), example('also taken')]);
  // An earlier run took these into a batch and failed before the store had them.
  expect(await buffer.beginExport(newBatchId())).toMatchObject({ examples: [{}, {}] });
  await buffer.add([example('labelled since'), example('and this')]);

  const section = await exporter.export(true);

  expect(section).toMatchObject({
    status: 'exported',
    resumedBatch: { examples: 2, written: true, resumed: true },
    batch: { examples: 2, written: true },
    snapshot: { examples: 4 },
  });
  expect(section.batch?.resumed).toBeUndefined();
  expect(await buffer.pendingCount()).toBe(0);
  expect(await buffer.exportInProgress()).toBe(false);
});

it('an unforced export finishes the earlier batch and leaves the rest for its own time', async () => {
  await buffer.add([example('taken earlier')]);
  await buffer.beginExport(newBatchId());
  await buffer.add([example('waiting')]);

  const section = await exporter.export(false);

  expect(section).toMatchObject({ status: 'exported', batch: { examples: 1, resumed: true } });
  expect(section.resumedBatch).toBeUndefined();
  expect(await buffer.pendingCount()).toBe(1);
});

it('a forced export with nothing behind the earlier batch reports that batch alone', async () => {
  await buffer.add([example('only this')]);
  await buffer.beginExport(newBatchId());

  const section = await exporter.export(true);

  expect(section).toMatchObject({ status: 'exported', batch: { examples: 1, resumed: true } });
  expect(section.resumedBatch).toBeUndefined();
});

it('keeps the resumed batch’s snapshot when the export behind it fails, and keeps those examples for the next run', async () => {
  /** The real local store, failing its second commit (a full disk, say). */
  class FailingSecondCommit extends LocalDatasetBackend {
    private commits = 0;
    override async commit(change: Parameters<LocalDatasetBackend['commit']>[0]): Promise<string> {
      if (++this.commits === 2) throw new Error('no space left on device');
      return super.commit(change);
    }
  }
  exporter = new DatasetExporter(
    buffer,
    new DatasetStore(new FailingSecondCommit(join(dir, 'store'))),
    config,
  );
  await buffer.add([example('taken earlier')]);
  await buffer.beginExport(newBatchId());
  await buffer.add([example('behind it')]);

  const section = await exporter.export(true);

  expect(section).toMatchObject({
    status: 'exported',
    batch: { resumed: true },
    snapshot: { examples: 1 },
    // The run report says so (a partial run), though the retrain gets the first snapshot.
    error: 'dataset export: no space left on device',
  });
  expect(await buffer.pendingCount()).toBe(0); // taken into a batch, which waits for the next run
  expect(await buffer.exportInProgress()).toBe(true);
});

it('goes on to the examples pending behind an earlier batch whose examples were all deleted since', async () => {
  await buffer.add([example('erased later')]);
  await buffer.beginExport(newBatchId());
  await buffer.delete([exampleId('erased later')]);
  await buffer.add([example('labelled since'), example('and this')]);

  const forced = await exporter.export(true);

  expect(forced).toMatchObject({ status: 'exported', batch: { examples: 2 }, snapshot: { examples: 2 } });
  expect(await buffer.pendingCount()).toBe(0);
  expect(await buffer.exportInProgress()).toBe(false);
});
