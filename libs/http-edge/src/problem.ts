import { HttpException } from '@nestjs/common';
import { ErrorCode, FieldError, ProblemDetails } from '@reputation-monitor/contracts';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  417: 'Expectation Failed',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export function problem(
  status: number,
  code: ErrorCode,
  detail?: string,
  errors?: FieldError[],
): ProblemDetails {
  return {
    type: `https://reputation-monitor.dev/problems/${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    ...(detail !== undefined && { detail }),
    ...(errors && errors.length > 0 && { errors }),
  };
}

/** Thrown anywhere in an app to answer with a specific problem (and optional headers). */
export class ProblemException extends HttpException {
  constructor(
    readonly details: ProblemDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(details, details.status);
  }
}

export function validationProblem(errors: FieldError[]): ProblemException {
  return new ProblemException(
    problem(
      422,
      ErrorCode.ValidationFailed,
      errors.map((error) => `${error.field} ${error.message}`).join('; '),
      errors,
    ),
  );
}
