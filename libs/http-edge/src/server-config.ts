import type { Server } from 'node:http';
import type { EnvReader } from '@reputation-monitor/config';

/** How an app's HTTP server treats connections between requests. */
export interface HttpServerConfig {
  keepAliveTimeoutMs: number;
}

/**
 * Node closes a keep-alive connection after 5 s without a request. Clients and proxies keep pooled connections
 * longer (nginx and cloud load balancers 60 s, Node's own agent until the server closes them), and one that
 * sends a request just as the server closes the connection gets a reset (ECONNRESET; a 502 from a proxy). The
 * side that closes first must be the client: 65 s outlasts the usual 60 s of a proxy.
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 65_000;

export function readHttpServerConfig(read: EnvReader): HttpServerConfig {
  return {
    keepAliveTimeoutMs: read.int('HTTP_KEEP_ALIVE_TIMEOUT_MS', {
      default: DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      min: 1_000,
      max: 600_000,
    }),
  };
}

/**
 * Applies the settings to a server. Idle connections do not hold up a shutdown: Node's `server.close()` closes
 * them at once; the headers and request timeouts (Node's defaults) still bound a slow client.
 */
export function applyHttpServerConfig(server: Server, config: HttpServerConfig): void {
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
}
