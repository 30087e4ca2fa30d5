import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ErrorCode } from '@reputation-monitor/contracts';
import { ProblemException, problem } from './problem';
import { ApiKeys } from './api-keys';

const PUBLIC_ROUTE = 'public-route';
/** Marks a controller or route as open even when API keys are configured (health checks, metrics). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

export function unauthorized(): ProblemException {
  return new ProblemException(
    problem(
      401,
      ErrorCode.Unauthorized,
      'a valid API key is required (Authorization: Bearer <key> or x-api-key)',
    ),
    { 'www-authenticate': 'Bearer realm="reputation-monitor"' },
  );
}

/** When API_KEYS is set, every route not marked @Public needs a key. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeys,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()])) {
      return true;
    }
    if (this.keys.accepts(context.switchToHttp().getRequest<Request>())) return true;
    throw unauthorized();
  }
}
