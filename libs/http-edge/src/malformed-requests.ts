import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '@reputation-monitor/contracts';
import { PROBLEM_CONTENT_TYPE, problem } from './problem';

/**
 * Requests Node's HTTP parser refuses before any app code runs (a bad request line or header, headers over
 * the size limit, an `Expect` other than 100-continue) get a problem+json body like every other 4xx, instead
 * of Node's bare status line. Written by hand because these answers happen below Express and Nest.
 */
export function answerMalformedRequests(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const [status, code, detail] =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, ErrorCode.PayloadTooLarge, 'request headers are larger than the server accepts']
        : [400, ErrorCode.MalformedRequest, 'the request is not valid HTTP/1.1 (request line or headers)'];
    const body = JSON.stringify(problem(status, code, detail));
    socket.end(
      `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Connection: close\r\n\r\n${body}`,
    );
  });
  // Node answers an unknown Expect with a bare 417 unless someone listens.
  server.on('checkExpectation', (request, response) => {
    const body = JSON.stringify(
      problem(
        417,
        ErrorCode.MalformedRequest,
        `Expect: ${String(request.headers.expect).slice(0, 60)} is not supported`,
      ),
    );
    response.writeHead(417, {
      'content-type': PROBLEM_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  });
}
