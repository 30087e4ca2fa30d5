import { json, NextFunction, Request, Response } from 'express';
import { ErrorCode } from '@reputation-monitor/contracts';
import { problem, sendProblem } from '@reputation-monitor/http-edge';

/**
 * JSON body parsing with problem+json answers for what body-parser rejects, as in the gateway: malformed
 * JSON 400, oversize 413, a body that is not JSON 415. A request without a body is fine (POST /v1/runs
 * needs none).
 */
export function jsonBody(limitBytes: number) {
  const parse = json({ limit: limitBytes, strict: true });
  return (request: Request, response: Response, next: NextFunction) => {
    const hasBody =
      Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'];
    if (hasBody && !request.is('application/json')) {
      const type = request.headers['content-type'] ?? 'none';
      sendProblem(
        response,
        problem(
          415,
          ErrorCode.UnsupportedMediaType,
          `send a JSON body with content-type application/json (got ${type})`,
        ),
      );
      return;
    }
    parse(request, response, (error?: { type?: string; message?: string }) => {
      if (!error) return next();
      if (error.type === 'entity.too.large') {
        sendProblem(
          response,
          problem(413, ErrorCode.PayloadTooLarge, `request body exceeds ${limitBytes} bytes`),
        );
      } else {
        sendProblem(
          response,
          problem(400, ErrorCode.MalformedJson, `request body is not valid JSON: ${error.message}`),
        );
      }
    });
  };
}
