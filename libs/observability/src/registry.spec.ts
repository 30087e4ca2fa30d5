import { Counter } from 'prom-client';
import { boundedLabel, createAppRegistry } from './registry';

describe('createAppRegistry', () => {
  it('labels every series with the app and includes the default process metrics', async () => {
    const registry = createAppRegistry('gateway');
    new Counter({ name: 'test_events_total', help: 'test', registers: [registry] }).inc();
    const text = await registry.metrics();
    expect(text).toContain('test_events_total{app="gateway"} 1');
    expect(text).toMatch(/process_cpu_user_seconds_total\{app="gateway"\}/);
    expect(text).toMatch(/nodejs_eventloop_lag_seconds\{app="gateway"\}/);
  });

  it('keeps separate registries apart', async () => {
    const a = createAppRegistry('a');
    const b = createAppRegistry('b');
    new Counter({ name: 'only_in_a_total', help: 'test', registers: [a] });
    expect(await b.metrics()).not.toContain('only_in_a_total');
  });
});

describe('boundedLabel', () => {
  it('passes allowed values and folds the rest into other', () => {
    const allowed = new Set(['twitter', 'forum']);
    expect(boundedLabel('twitter', allowed)).toBe('twitter');
    expect(boundedLabel('my-blog', allowed)).toBe('other');
    expect(boundedLabel(undefined, allowed)).toBe('none');
  });
});
