import { Socket, connect } from 'node:net';

/**
 * An HTTP/1.1 client over a bare socket, for requests `fetch` and `node:http` refuse to send: any method token,
 * any bytes in the path and header values, bodies that are not valid UTF-8, chunked bodies. One connection per
 * request, closed by the client once the answer is complete (no `Connection: close`: a server that answers
 * early, such as a 413 or 415, then reads and drops the rest of the body instead of resetting the connection
 * under the answer), loopback only.
 */
export interface RawRequest {
  method: string;
  /** The request target exactly as sent (no encoding applied). */
  path: string;
  /** Sent in order, as given; a value is sent as its UTF-8 bytes unless it is a Buffer. */
  headers: Array<[string, string | Buffer]>;
  body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked instead of Content-Length. */
  chunked?: boolean;
}

export type RawResponse =
  | {
      kind: 'response';
      status: number;
      /** Lower-case names; repeated headers joined with ", ". */
      headers: Record<string, string>;
      body: Buffer;
      ms: number;
    }
  /** No complete response: the connection was refused, reset or closed first, or the time limit passed. */
  | { kind: 'timeout' | 'closed' | 'error'; message: string; ms: number };

const HOST = '127.0.0.1';

export function rawRequest(port: number, request: RawRequest, timeoutMs: number): Promise<RawResponse> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    const socket: Socket = connect({ host: HOST, port });
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (result: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // Resolves as soon as a whole response is in, without waiting for the server to close.
    const tryComplete = (atEnd: boolean): boolean => {
      const parsed = parseResponse(Buffer.concat(chunks), atEnd, request.method === 'HEAD');
      if (!parsed) return false;
      finish({ kind: 'response', ...parsed, ms: elapsed() });
      return true;
    };
    const timer = setTimeout(
      () => finish({ kind: 'timeout', message: `no complete answer within ${timeoutMs} ms`, ms: elapsed() }),
      timeoutMs,
    );
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      tryComplete(false);
    });
    socket.on('end', () => {
      if (!tryComplete(true))
        finish({
          kind: 'closed',
          message: `connection closed after ${Buffer.concat(chunks).length} bytes without a complete response`,
          ms: elapsed(),
        });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A server may answer early (413, 415) and reset the connection while the body is still going out.
      if (tryComplete(true)) return;
      finish({ kind: 'error', message: `${error.code ?? ''} ${error.message}`.trim(), ms: elapsed() });
    });
    socket.on('connect', () => {
      const { head, body } = serialize(port, request);
      if (body.length <= HEAD_FIRST_BYTES) {
        socket.write(Buffer.concat([head, body]), () => undefined);
        return;
      }
      // Node's parser answers a request head it refuses (400, 431) and destroys the socket at once: with a
      // large body still arriving, that is a reset which takes the answer with it. The head goes first, and
      // the body only if no answer came within a moment, as a client waiting on `Expect` would do.
      socket.write(head, () => undefined);
      setTimeout(() => {
        // An interim 100 Continue leaves the request unsettled: the body is what the server waits for then.
        if (!settled) socket.write(body, () => undefined);
      }, HEAD_FIRST_WAIT_MS);
    });
  });
}

/** Bodies above this size are sent after the head has had HEAD_FIRST_WAIT_MS to be refused. */
const HEAD_FIRST_BYTES = 64 * 1024;
const HEAD_FIRST_WAIT_MS = 30;

function serialize(port: number, request: RawRequest): { head: Buffer; body: Buffer } {
  const parts: Buffer[] = [Buffer.from(`${request.method} ${request.path} HTTP/1.1\r\n`, 'utf8')];
  const names = new Set(request.headers.map(([name]) => name.toLowerCase()));
  const header = (name: string, value: string | Buffer) =>
    parts.push(Buffer.from(`${name}: `, 'utf8'), Buffer.from(value), Buffer.from('\r\n'));
  if (!names.has('host')) header('Host', `${HOST}:${port}`);
  for (const [name, value] of request.headers) header(name, value);
  const body = request.body ?? Buffer.alloc(0);
  if (request.chunked) {
    header('Transfer-Encoding', 'chunked');
    parts.push(Buffer.from('\r\n'));
    // Uneven chunks, so a parser sees a body split at arbitrary bytes (mid UTF-8 sequence too).
    for (let offset = 0, size = 7; offset < body.length; offset += size, size = size * 3 + 1) {
      const chunk = body.subarray(offset, offset + size);
      parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    return { head: Buffer.concat(parts), body: Buffer.alloc(0) };
  }
  if (body.length > 0 || request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH')
    header('Content-Length', String(body.length));
  parts.push(Buffer.from('\r\n'));
  return { head: Buffer.concat(parts), body };
}

const HEAD_END = Buffer.from('\r\n\r\n');

/** The response in `data`, or undefined while it is incomplete (at the end of the stream: if it is malformed). */
function parseResponse(
  data: Buffer,
  atEnd: boolean,
  noBody: boolean,
): { status: number; headers: Record<string, string>; body: Buffer } | undefined {
  const headEnd = data.indexOf(HEAD_END);
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const match = statusLine.match(/^HTTP\/1\.[01] (\d{3})/);
  if (!match) return undefined;
  const status = Number(match[1]);
  // An interim answer (100 Continue): the final one follows it.
  if (status >= 100 && status < 200 && status !== 101)
    return parseResponse(data.subarray(headEnd + HEAD_END.length), atEnd, noBody);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const rest = data.subarray(headEnd + HEAD_END.length);
  if (noBody || status === 204 || status === 304 || status === 101)
    return { status, headers, body: Buffer.alloc(0) };
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const body = dechunk(rest);
    return body ? { status, headers, body } : undefined;
  }
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length < length) return undefined;
    return { status, headers, body: rest.subarray(0, length) };
  }
  return atEnd ? { status, headers, body: rest } : undefined;
}

function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    const start = lineEnd + 2;
    if (size === 0) return data.indexOf('\r\n', start) >= 0 ? Buffer.concat(parts) : undefined;
    if (data.length < start + size + 2) return undefined;
    parts.push(data.subarray(start, start + size));
    offset = start + size + 2;
  }
}
