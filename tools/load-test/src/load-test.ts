/**
 * `npm run load -- [--url http://127.0.0.1:3000] [--mode single|batch] [--duration 30] [--connections 16]
 *   [--rate N] [--batch-size 32] [--source twitter] [--api-key KEY]`
 *
 * Replays TweetEval sentiment test tweets against a local gateway for a bounded time and prints
 * throughput, latency percentiles and error counts. It is also what fills the dashboards with live data.
 * Only loopback targets are allowed: this is a tool for one's own machine, not for load on others.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const ROOT = resolve(__dirname, '../../..');
const TWEETS = resolve(ROOT, '../shared/data/tweeteval/sentiment/test_text.txt');
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
const LIMITS = { maxDurationSeconds: 600, maxConnections: 256 };

function fail(message: string): never {
  console.error(`load-test: ${message}`);
  process.exit(2);
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:3000' },
      mode: { type: 'string', default: 'single' },
      duration: { type: 'string', default: '30' },
      connections: { type: 'string', default: '16' },
      rate: { type: 'string' },
      'batch-size': { type: 'string', default: '32' },
      source: { type: 'string', default: 'twitter' },
      'api-key': { type: 'string', default: process.env.API_KEY },
      texts: { type: 'string', default: TWEETS },
    },
  });
  const url = new URL(values.url as string);
  if (!LOOPBACK.has(url.hostname))
    fail(`refusing ${url.hostname}: only loopback targets (127.0.0.1, localhost, ::1)`);
  const mode = values.mode;
  if (mode !== 'single' && mode !== 'batch') fail(`--mode must be single or batch, got ${mode}`);
  const number = (name: string, value: string | undefined, max: number) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1 || parsed > max)
      fail(`--${name} must be an integer in 1..${max}`);
    return parsed;
  };
  return {
    url,
    mode,
    duration: number('duration', values.duration as string, LIMITS.maxDurationSeconds),
    connections: number('connections', values.connections as string, LIMITS.maxConnections),
    rate: values.rate === undefined ? undefined : number('rate', values.rate, 100_000),
    batchSize: number('batch-size', values['batch-size'] as string, 256),
    source: values.source as string,
    apiKey: values['api-key'],
    texts: values.texts as string,
  };
}

async function main(): Promise<void> {
  const options = readOptions();
  const texts = readFileSync(options.texts, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  if (texts.length === 0) fail(`no texts in ${options.texts}`);
  let next = 0;
  const take = () => texts[next++ % texts.length];
  const path = options.mode === 'single' ? '/v1/sentiment' : '/v1/sentiment/batch';
  const body = () =>
    options.mode === 'single'
      ? JSON.stringify({ text: take(), source: options.source })
      : JSON.stringify({
          items: Array.from({ length: options.batchSize }, () => ({ text: take() })),
          source: options.source,
        });

  console.log(
    `${options.mode} requests to ${options.url.origin}${path} for ${options.duration} s, ${options.connections} connections` +
      (options.rate ? `, ${options.rate} requests/s` : ', as fast as answered'),
  );
  const result = await autocannon({
    url: options.url.origin,
    duration: options.duration,
    connections: options.connections,
    ...(options.rate && { overallRate: options.rate }),
    headers: {
      'content-type': 'application/json',
      ...(options.apiKey && { authorization: `Bearer ${options.apiKey}` }),
    },
    requests: [{ method: 'POST', path, setupRequest: (request) => ({ ...request, body: body() }) }],
    timeout: 60,
  });

  const textsPerRequest = options.mode === 'single' ? 1 : options.batchSize;
  const ok = result['2xx'];
  console.log(`
requests      ${result.requests.total} (${ok} 2xx, ${result.non2xx} other, ${result.errors} errors, ${result.timeouts} timeouts)
throughput    ${(ok / result.duration).toFixed(1)} requests/s, ${((ok * textsPerRequest) / result.duration).toFixed(1)} texts/s
latency ms    p50 ${result.latency.p50}  p90 ${result.latency.p90}  p99 ${result.latency.p99}  max ${result.latency.max}
statuses      ${Object.entries(result.statusCodeStats ?? {})
    .map(([status, stats]) => `${status}: ${(stats as { count: number }).count}`)
    .join(', ')}`);
  // 429s under overload are information, not a failure of the tool; connection errors are.
  if (result.errors > 0) process.exitCode = 1;
}

main().catch((error: Error) => fail(error.stack ?? error.message));
