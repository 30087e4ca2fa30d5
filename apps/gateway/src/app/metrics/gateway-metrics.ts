import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { Span } from '@opentelemetry/api';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  LATENCY_BUCKETS_SECONDS,
  METRICS_REGISTRY,
  TracedHistogram,
} from '@reputation-monitor/observability';
import { ErrorCode } from '@reputation-monitor/contracts';
import { SentimentProducer } from '@reputation-monitor/producer-client';
import { withTimeout } from '@reputation-monitor/http-edge';

const REJECTION_REASONS = [
  'validation',
  'backpressure',
  'rate_limit',
  'auth',
  'forbidden',
  'conflict',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];
export type AnswerMode = 'sync' | 'async';

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
const REPLICA_WAIT_OUTCOMES = ['acked', 'timeout', 'skipped', 'error'] as const;
/** A replica's acknowledgement takes well under a millisecond on a LAN; a timeout is REDIS_WAIT_TIMEOUT_MS (1 s). */
const REPLICA_WAIT_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
/** A scrape waits this long for the queue counts before reporting Redis as down. */
const SCRAPE_READ_TIMEOUT_MS = 2_000;
/** Jobs answered with 202 whose completion is still to be timed; the oldest are dropped beyond this. */
const MAX_TRACKED_ASYNC_JOBS = 100_000;

/** The gateway's metrics, on the app's registry (METRICS_REGISTRY, labelled app="gateway") that /metrics serves. */
@Injectable()
export class GatewayMetrics implements OnModuleInit {
  private readonly httpDuration: TracedHistogram<'route' | 'method' | 'status'>;
  private readonly latency: TracedHistogram<'mode'>;
  private readonly rejections: Counter<'reason'>;
  private readonly replicaWaits: Counter<'outcome'>;
  private readonly replicaWaitDuration: Histogram<'outcome'>;
  private readonly asyncAccepted = new Map<string, number>();

  constructor(
    private readonly producer: SentimentProducer,
    @Inject(METRICS_REGISTRY) private readonly registry: Registry,
  ) {
    const registers = [registry];
    this.httpDuration = new TracedHistogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status.',
      labelNames: ['route', 'method', 'status'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.latency = new TracedHistogram({
      name: 'sentiment_request_latency_seconds',
      help: 'Accepted -> answered, for results returned in the request (sync) or completed after a 202 (async).',
      labelNames: ['mode'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.rejections = new Counter({
      name: 'gateway_rejections_total',
      help: 'Requests refused before any work was queued, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.replicaWaits = new Counter({
      name: 'gateway_replica_waits_total',
      help: 'Enqueues by how their replica confirmation (Redis WAIT) ended: acked, timeout (answered 503), skipped (none expected), error.',
      labelNames: ['outcome'],
      registers,
    });
    this.replicaWaitDuration = new Histogram({
      name: 'gateway_replica_wait_seconds',
      help: 'Time an enqueue spent waiting for replicas to acknowledge it (Redis WAIT, shared by concurrent enqueues).',
      labelNames: ['outcome'],
      buckets: REPLICA_WAIT_BUCKETS_SECONDS,
      registers,
    });
  }

  onModuleInit(): void {
    // Every reason from the start, so rates read 0 rather than nothing before the first rejection.
    for (const reason of REJECTION_REASONS) this.rejections.inc({ reason }, 0);
    for (const outcome of REPLICA_WAIT_OUTCOMES) this.replicaWaits.inc({ outcome }, 0);
    const producer = this.producer;
    const registers = [this.registry];
    producer.onReplicaWait(({ outcome, seconds }) => {
      this.replicaWaits.inc({ outcome });
      // Skipped confirmations cost nothing worth a bucket; the counter has them.
      if (outcome !== 'skipped') this.replicaWaitDuration.observe({ outcome }, seconds);
    });
    // One read of the queue per scrape, shared by both gauges: prom-client starts their collects together,
    // so the second joins the read still in flight.
    let pending: Promise<Record<string, number> | undefined> | undefined;
    const readQueue = () =>
      (pending ??= withTimeout(producer.queue.getJobCounts(...QUEUE_STATES), SCRAPE_READ_TIMEOUT_MS)
        .catch(() => undefined)
        .finally(() => (pending = undefined)));
    // Read at scrape time, so the figure is never older than the scrape. While Redis is down the
    // series is left out (not a stale figure) and the scrape itself still succeeds.
    new Gauge({
      name: 'sentiment_queue_jobs',
      help: 'Jobs in the sentiment queue by state, read from Redis at scrape time.',
      labelNames: ['state'],
      registers,
      async collect() {
        const counts = await readQueue();
        if (!counts) this.reset();
        else for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
      },
    });
    new Gauge({
      name: 'gateway_redis_up',
      help: '1 when this scrape read the queue from Redis, 0 when Redis did not answer.',
      registers,
      async collect() {
        this.set((await readQueue()) ? 1 : 0);
      },
    });
    producer.onCompleted((jobId) => {
      const acceptedAt = this.asyncAccepted.get(jobId);
      if (acceptedAt === undefined) return;
      this.asyncAccepted.delete(jobId);
      this.latency.observe({ mode: 'async' }, (performance.now() - acceptedAt) / 1000);
    });
  }

  request(
    route: string,
    method: string,
    status: number,
    seconds: number,
    problemCode?: string,
    span?: Span,
  ): void {
    this.httpDuration.observe({ route, method, status: String(status) }, seconds, span);
    const reason = rejectionReason(status, problemCode);
    if (reason) this.rejections.inc({ reason });
  }

  answered(mode: 'sync', acceptedAt: number): void {
    this.latency.observe({ mode }, (performance.now() - acceptedAt) / 1000);
  }

  /** A 202 went out: time the job until it completes. */
  acceptedAsync(jobId: string, acceptedAt: number): void {
    this.asyncAccepted.set(jobId, acceptedAt);
    if (this.asyncAccepted.size > MAX_TRACKED_ASYNC_JOBS) {
      this.asyncAccepted.delete(this.asyncAccepted.keys().next().value as string);
    }
  }
}

function rejectionReason(status: number, problemCode: string | undefined): RejectionReason | undefined {
  if (status === 400 || status === 413 || status === 415 || status === 422) return 'validation';
  if (status === 429) return problemCode === ErrorCode.RateLimited ? 'rate_limit' : 'backpressure';
  if (status === 401) return 'auth';
  if (status === 403) return 'forbidden';
  if (status === 409) return 'conflict';
  return undefined;
}
