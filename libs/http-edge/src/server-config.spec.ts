import { Server, createServer } from 'node:http';
import { Socket, connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ConfigError, EnvReader } from '@reputation-monitor/config';
import { DEFAULT_KEEP_ALIVE_TIMEOUT_MS, applyHttpServerConfig, readHttpServerConfig } from './server-config';

/** Node's own keep-alive timeout, which a pooled client connection used to be reset after. */
const NODE_DEFAULT_KEEP_ALIVE_MS = 5_000;

function read(env: Record<string, string>) {
  const reader = new EnvReader(env);
  const config = readHttpServerConfig(reader);
  reader.done();
  return config;
}

/** Sends one GET on an open connection and resolves with the status line of the answer. */
function get(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) {
      reject(new Error('the server closed the connection'));
      return;
    }
    const onData = (chunk: Buffer) => {
      socket.off('close', onClose);
      resolve(chunk.toString('latin1').split('\r\n')[0]);
    };
    const onClose = () => {
      socket.off('data', onData);
      reject(new Error('the server closed the connection'));
    };
    socket.once('data', onData);
    socket.once('close', onClose);
    socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
}

describe('HTTP server settings', () => {
  let server: Server;
  let socket: Socket | undefined;

  beforeEach(async () => {
    server = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterEach(async () => {
    socket?.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const open = () =>
    new Promise<Socket>((resolve) => {
      const connection = connect((server.address() as AddressInfo).port, '127.0.0.1', () =>
        resolve(connection),
      );
    });

  it('logs a server error after listening (an accept failing under a connection flood) instead of ending the process', async () => {
    const acceptFailed = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
    // Without a listener, emit throws the error: in Node's accept callback that ends the process.
    expect(() => server.emit('error', acceptFailed)).toThrow('accept EMFILE');
    applyHttpServerConfig(server, read({}));
    expect(() => server.emit('error', acceptFailed)).not.toThrow();
    socket = await open();
    expect(await get(socket)).toBe('HTTP/1.1 200 OK');
  });

  it('keeps an idle connection open past Node’s 5 s by default, so a pooled connection is not reset', async () => {
    const config = read({});
    expect(config.keepAliveTimeoutMs).toBe(DEFAULT_KEEP_ALIVE_TIMEOUT_MS);
    applyHttpServerConfig(server, config);
    socket = await open();
    expect(await get(socket)).toBe('HTTP/1.1 200 OK');
    await new Promise((resolve) => setTimeout(resolve, NODE_DEFAULT_KEEP_ALIVE_MS + 2_000));
    expect(await get(socket)).toBe('HTTP/1.1 200 OK');
  }, 15_000);

  it('closes an idle connection once the configured time has passed', async () => {
    applyHttpServerConfig(server, read({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '1000' }));
    socket = await open();
    expect(await get(socket)).toBe('HTTP/1.1 200 OK');
    const openedFor = performance.now();
    await new Promise((resolve) => socket!.once('close', resolve));
    expect(performance.now() - openedFor).toBeGreaterThanOrEqual(900);
  }, 15_000);

  it('closes a connection about a second after the answer it was giving when the server began to close', async () => {
    const slow = createServer((_request, response) => setTimeout(() => response.end('ok'), 500));
    applyHttpServerConfig(slow, read({}));
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const connection = connect((slow.address() as AddressInfo).port, '127.0.0.1');
    try {
      const answer = get(connection);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closing = performance.now();
      const closed = new Promise((resolve) => slow.close(resolve));
      expect(await answer).toBe('HTTP/1.1 200 OK');
      await closed;
      // Within Node's second of grace after the answer, not the 65 s the connection would otherwise keep.
      expect(performance.now() - closing).toBeLessThan(5_000);
    } finally {
      connection.destroy();
    }
  }, 15_000);

  it('refuses a value that is not a whole number of ms from 1 s to 10 min', () => {
    for (const value of ['abc', '999', '600001', '1.5']) {
      expect(() => read({ HTTP_KEEP_ALIVE_TIMEOUT_MS: value })).toThrow(ConfigError);
    }
  });
});
