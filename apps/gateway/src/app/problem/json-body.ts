import { json, NextFunction, Request, Response } from 'express';
import { ErrorCode } from '@reputation-monitor/contracts';
import { problem, sendProblem } from '@reputation-monitor/http-edge';

/**
 * JSON body parsing with problem+json answers for what body-parser rejects (it runs before Nest's
 * exception filters would see anything): malformed JSON 400, oversize 413, non-JSON bodies 415.
 */
export function jsonBody(limitBytes: number) {
  const parse = json({ limit: limitBytes, strict: true });
  return (request: Request, response: Response, next: NextFunction) => {
    const hasBody = request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH';
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
    parse(request, response, (error?: { type?: string; message?: string; limit?: number }) => {
      if (!error) return next();
      if (error.type === 'entity.too.large') {
        sendProblem(
          response,
          problem(413, ErrorCode.PayloadTooLarge, `request body exceeds ${limitBytes} bytes`),
        );
      } else if (error.type === 'entity.parse.failed') {
        sendProblem(
          response,
          problem(400, ErrorCode.MalformedJson, `request body is not valid JSON: ${error.message}`),
        );
      } else {
        sendProblem(
          response,
          problem(400, ErrorCode.MalformedJson, `request body could not be read: ${error.message}`),
        );
      }
    });
  };
}
