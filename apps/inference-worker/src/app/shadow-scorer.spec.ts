import { loadWorkerConfig } from './worker-config';
import { WorkerMetrics } from './worker-metrics';
import { ShadowScorer } from './shadow-scorer';

/** A stand-in for the answering side: how long it has been quiet, and the retiring hook. */
class FakeModels {
  idleMs = 0;
  listeners: Array<(model: unknown) => void> = [];
  get foregroundIdleMs(): number {
    return this.idleMs;
  }
  onRetiring(listener: (model: unknown) => void): void {
    this.listeners.push(listener);
  }
}

const score = (texts: readonly string[]) =>
  texts.map(() => ({
    label: 'neutral' as const,
    scores: { negative: 0.1, neutral: 0.8, positive: 0.1 },
    tokens: 3,
    truncated: false,
  }));

function setup(env: Record<string, string> = {}) {
  const config = loadWorkerConfig({ SHADOW_IDLE_MS: '30', SHADOW_QUEUE_MAX_TEXTS: '4', ...env });
  const metrics = new WorkerMetrics(config);
  const models = new FakeModels();
  const appended: Array<{ role?: string; ids: string[] }> = [];
  const log = {
    append: async (entries: any[]) =>
      entries.forEach((e) => appended.push({ role: e.role, ids: e.predictions.map((p: any) => p.id) })),
  };
  const cache = {
    score: async (_v: string, texts: readonly string[], compute: (t: string[]) => Promise<unknown>) =>
      compute([...texts]),
  };
  const scorer = new ShadowScorer(models as never, cache as never, log as never, metrics, config);
  const model = {
    info: { name: 'm', version: 'v2' },
    score: jest.fn(async (texts: string[]) => score(texts)),
  };
  const work = (ids: string[], release = jest.fn()) => ({
    model: model as never,
    items: ids.map((id) => ({ id, text: `text ${id}` })),
    source: 'x',
    jobId: ids[0],
    release,
  });
  return { scorer, models, appended, model, work, metrics };
}

describe('ShadowScorer', () => {
  it('waits for a quiet spell of the answering models, then records the predictions as shadow, unindexed', async () => {
    const { scorer, models, appended, model, work } = setup();
    const release = jest.fn();
    scorer.enqueue(work(['a', 'b'], release));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(model.score).not.toHaveBeenCalled();
    models.idleMs = 1_000;
    await scorer.idle();
    expect(appended).toEqual([{ role: 'shadow', ids: ['a', 'b'] }]);
    expect(release).toHaveBeenCalledTimes(1);
  });

  it('counts the texts of a shadow run that failed, releases its work and goes on with the next', async () => {
    const { scorer, models, appended, model, work, metrics } = setup();
    models.idleMs = 1_000;
    model.score.mockRejectedValueOnce(new Error('inference thread died'));
    const failed = jest.fn();
    scorer.enqueue(work(['a', 'b', 'c'], failed));
    scorer.enqueue(work(['d']));
    await scorer.idle();
    expect(failed).toHaveBeenCalledTimes(1);
    expect(appended).toEqual([{ role: 'shadow', ids: ['d'] }]);
    const counted = await metrics.registry.getSingleMetricAsString('sentiment_shadow_texts_total');
    expect(counted).toMatch(/outcome="failed"[^}]*\} 3/);
    expect(counted).toMatch(/outcome="scored"[^}]*\} 1/);
  });

  it('drops work beyond its bound and the work of a retired model, releasing it and counting the texts', async () => {
    const { scorer, models, work, metrics } = setup();
    const kept = jest.fn();
    const overflow = jest.fn();
    scorer.enqueue(work(['a', 'b', 'c'], kept));
    scorer.enqueue(work(['d', 'e'], overflow)); // 5 > SHADOW_QUEUE_MAX_TEXTS 4
    expect(overflow).toHaveBeenCalledTimes(1);
    models.listeners.forEach((listener) => listener((work([]) as { model: unknown }).model));
    expect(kept).toHaveBeenCalledTimes(1);
    await scorer.idle();
    expect(await metrics.registry.getSingleMetricAsString('sentiment_shadow_texts_total')).toMatch(
      /outcome="dropped"[^}]*\} 5/,
    );
  });
});
