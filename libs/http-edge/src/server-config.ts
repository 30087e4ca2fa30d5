import type { Server } from 'node:http';
import { Logger } from '@nestjs/common';
import type { EnvReader } from '@reputation-monitor/config';

const logger = new Logger('HttpServer');

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

/** What a connection answering a request at shutdown stays open for after its answer (Node adds about 1 s). */
const CLOSING_KEEP_ALIVE_MS = 1;

/**
 * Applies the settings to a server; the headers and request timeouts (Node's defaults) still bound a slow
 * client. Node's `server.close()` closes the idle connections at once, but one answering a request stays open
 * for the keep-alive time after its answer, which would hold a shutdown up for a minute: so once the server
 * closes, connections close about a second after their answer. (Wrapping `close` is the only hook: Node
 * reads `keepAliveTimeout` when each answer ends, and has no event for the start of a close.)
 */
export function applyHttpServerConfig(server: Server, config: HttpServerConfig): void {
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  // Node emits accept failures (EMFILE under a connection flood) as 'error': without a listener they end the
  // process. A failed listen still rejects Nest's app.listen, which listens too.
  server.on('error', (error: Error) => logger.error(`HTTP server: ${error.message}`));
  const close = server.close.bind(server);
  server.close = (callback?: (error?: Error) => void) => {
    server.keepAliveTimeout = CLOSING_KEEP_ALIVE_MS;
    return close(callback);
  };
}
