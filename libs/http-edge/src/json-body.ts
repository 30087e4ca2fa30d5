import { json, NextFunction, Request, Response } from 'express';
import { ErrorCode } from '@reputation-monitor/contracts';
import { problem } from './problem';
import { sendProblem } from './problem-filter';

export interface JsonBodyLimits {
  /** Largest body, in bytes (413). */
  limitBytes: number;
  /** Deepest nesting of arrays and objects (413): the apps' requests need 3 levels. */
  maxDepth?: number;
  /** Most elements in one array (413), checked before any per-item validation runs. */
  maxArrayItems?: number;
  /**
   * Most members in one object (413). The apps' request objects have a handful; class-transformer's cost grows
   * with the square of an object's members (100,000 of them, 1 MB of JSON, held the event loop for 11 s).
   */
  maxObjectMembers?: number;
}

export const DEFAULT_MAX_JSON_DEPTH = 16;
export const DEFAULT_MAX_OBJECT_MEMBERS = 64;

/** Why the raw body is refused before JSON.parse sees it. */
class JsonTooComplexError extends Error {}

/**
 * Measures nesting depth, array lengths and object sizes in one pass over the raw text, so a small body that
 * would cost a deep recursion (validators, class-transformer), a long validation loop or class-transformer's
 * quadratic walk of a wide object is refused before it is parsed. Hand-written because body-parser and
 * JSON.parse offer no such limits; a malformed body is left for JSON.parse to report.
 */
export function jsonComplexityProblem(
  text: string,
  maxDepth: number,
  maxArrayItems: number,
  maxObjectMembers = Number.POSITIVE_INFINITY,
): string | undefined {
  // Per open container: whether it is an object, and the commas seen so far in it (its members less one).
  const isObject: boolean[] = [];
  const commas: number[] = [];
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text.charCodeAt(i);
    if (inString) {
      if (char === 0x5c)
        i++; // backslash: skip the escaped character
      else if (char === 0x22) inString = false;
      continue;
    }
    switch (char) {
      case 0x22: // "
        inString = true;
        break;
      case 0x5b: // [
      case 0x7b: // {
        if (isObject.length >= maxDepth) return `JSON nests deeper than ${maxDepth} levels`;
        isObject.push(char === 0x7b);
        commas.push(0);
        break;
      case 0x5d: // ]
      case 0x7d: // }
        isObject.pop();
        commas.pop();
        break;
      case 0x2c: {
        // ,
        const top = commas.length - 1;
        if (top < 0) break;
        const members = ++commas[top] + 1;
        if (isObject[top] && members > maxObjectMembers)
          return `a JSON object holds more than ${maxObjectMembers} members`;
        if (!isObject[top] && members > maxArrayItems)
          return `a JSON array holds more than ${maxArrayItems} items`;
        break;
      }
    }
  }
  return undefined;
}

/**
 * JSON body parsing with problem+json answers for what body-parser rejects (it runs before Nest's
 * exception filters would see anything): malformed JSON 400, oversize or too deep/long 413, non-JSON 415.
 */
export function jsonBody(limits: JsonBodyLimits) {
  const maxDepth = limits.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const maxArrayItems = limits.maxArrayItems ?? Number.POSITIVE_INFINITY;
  const maxObjectMembers = limits.maxObjectMembers ?? DEFAULT_MAX_OBJECT_MEMBERS;
  const parse = json({
    limit: limits.limitBytes,
    strict: true,
    verify: (_request, _response, buffer, encoding) => {
      const issue = jsonComplexityProblem(
        buffer.toString((encoding as BufferEncoding) || 'utf8'),
        maxDepth,
        maxArrayItems,
        maxObjectMembers,
      );
      if (issue) throw new JsonTooComplexError(issue);
    },
  });
  return (request: Request, response: Response, next: NextFunction) => {
    const hasBody = request.method === 'POST' || request.method === 'PUT' || request.method === 'PATCH';
    const charset = /;\s*charset=("?)([^";]+)\1/i.exec(request.headers['content-type'] ?? '')?.[2];
    if (hasBody && charset !== undefined && !/^utf-?8$/i.test(charset.trim())) {
      // RFC 8259: JSON between systems is UTF-8; other charsets are refused rather than half-supported.
      sendProblem(
        response,
        problem(
          415,
          ErrorCode.UnsupportedMediaType,
          `send JSON as UTF-8 (got charset ${charset.slice(0, 40)})`,
        ),
      );
      return;
    }
    // A POST with no body at all (POST /v1/runs; elsewhere the route's own 422) needs no content type.
    const empty =
      request.headers['transfer-encoding'] === undefined &&
      (request.headers['content-length'] ?? '0') === '0';
    if (hasBody && !empty && !request.is('application/json')) {
      const type = request.headers['content-type'] ?? 'none';
      sendProblem(
        response,
        problem(
          415,
          ErrorCode.UnsupportedMediaType,
          `send a JSON body with content-type application/json (got ${type.slice(0, 100)})`,
        ),
      );
      return;
    }
    parse(request, response, (error?: { type?: string; message?: string }) => {
      if (!error) return next();
      sendProblem(response, bodyProblem(error, limits.limitBytes));
    });
  };
}

function bodyProblem(error: { type?: string; message?: string }, limitBytes: number) {
  switch (error.type) {
    case 'entity.too.large':
      return problem(413, ErrorCode.PayloadTooLarge, `request body exceeds ${limitBytes} bytes`);
    case 'entity.verify.failed':
      return problem(413, ErrorCode.JsonTooComplex, `request body refused: ${error.message}`);
    case 'entity.parse.failed':
      return problem(400, ErrorCode.MalformedJson, `request body is not valid JSON: ${error.message}`);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return problem(415, ErrorCode.UnsupportedMediaType, `request body could not be read: ${error.message}`);
    default:
      return problem(400, ErrorCode.MalformedJson, `request body could not be read: ${error.message}`);
  }
}
