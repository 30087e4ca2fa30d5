import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { QueueConsumer } from './queue-consumer';
import { ModelManager } from './model-manager';
import { REDIS, WORKER_CONFIG } from './tokens';
import { WorkerMetrics } from './worker-metrics';
import type { WorkerConfig } from './worker-config';

/**
 * The worker serves no API, only this small port: `/health/live` answers while the process runs,
 * `/health/ready` once the model is loaded, the queue is consumed and Redis answers; `/metrics` for
 * Prometheus.
 */
@Injectable()
export class HealthServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(HealthServer.name);
  private server: Server | undefined;

  constructor(
    private readonly models: ModelManager,
    private readonly consumer: QueueConsumer,
    private readonly metrics: WorkerMetrics,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.server = createServer((request, response) => {
      const send = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      };
      if (request.url === '/health/live') return send(200, { status: 'ok' });
      // A rejection here must become a 500, never an unhandled rejection: that would end the process.
      const failed = (error: Error) => {
        this.logger.error(`${request.url} failed: ${error.message}`);
        if (!response.headersSent) send(500, { status: 500, title: 'Internal Server Error' });
      };
      if (request.url === '/metrics') {
        this.metrics.registry.metrics().then((text) => {
          response.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
        }, failed);
        return;
      }
      if (request.url === '/health/ready') {
        this.readiness().then(
          ({ ready, checks }) => send(ready ? 200 : 503, { status: ready ? 'ok' : 'error', checks }),
          failed,
        );
        return;
      }
      send(404, { status: 404, title: 'Not Found' });
    });
    const server = this.server;
    // A port in use fails the start; a later error (an accept failing: EMFILE) is logged, not fatal.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.healthPort, this.config.healthHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.logger.error(`health port: ${error.message}`));
    const { port } = server.address() as AddressInfo;
    this.logger.log(`health on http://${this.config.healthHost}:${port}/health/ready`);
  }

  /** Where the port listens (HEALTH_PORT 0 picks a free one); undefined before bootstrap. */
  address(): AddressInfo | undefined {
    return (this.server?.address() as AddressInfo | null) ?? undefined;
  }

  async onApplicationShutdown(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve) ?? resolve(undefined));
  }

  private async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const redis = await Promise.race([
      this.redis.ping().then(() => 'up'),
      new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), 1_000).unref()),
    ]).catch((error: Error) => `down: ${error.message}`);
    const checks = {
      redis,
      model: this.models.ready ? 'loaded' : (this.models.failure?.message ?? 'loading'),
      queue: this.consumer.running ? 'consuming' : 'stopped',
    };
    return { ready: redis === 'up' && this.models.ready && this.consumer.running, checks };
  }
}
