import { CanActivate, ExecutionContext, Injectable, Optional, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ErrorCode } from '@reputation-monitor/contracts';
import { ProblemException, problem } from './problem';
import { AdminApiKeys, ApiKeys } from './api-keys';

const PUBLIC_ROUTE = 'public-route';
const ADMIN_ROUTE = 'admin-route';
/** Marks a controller or route as open even when API keys are configured (health checks, metrics). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
/** Marks a controller or route as admin only: it needs one of ADMIN_API_KEYS, whatever API_KEYS says. */
export const AdminOnly = () => SetMetadata(ADMIN_ROUTE, true);

export function forbidden(detail: string): ProblemException {
  return new ProblemException(problem(403, ErrorCode.Forbidden, detail));
}

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

/**
 * When API_KEYS is set, every route not marked @Public needs a key (an admin key counts too). Routes marked
 * @AdminOnly need an admin key: 401 without a key, 403 with a client key or when no admin key is configured.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeys,
    @Optional() private readonly adminKeys?: AdminApiKeys,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, targets)) return true;
    const request = context.switchToHttp().getRequest<Request>();
    if (this.reflector.getAllAndOverride<boolean>(ADMIN_ROUTE, targets)) {
      if (!this.adminKeys?.required)
        throw forbidden('the admin API is off: no ADMIN_API_KEYS are configured');
      if (this.adminKeys.matches(request)) return true;
      if (this.keys.required && this.keys.matches(request)) throw forbidden('this route needs an admin key');
      throw unauthorized();
    }
    if (this.keys.accepts(request) || this.adminKeys?.matches(request)) return true;
    throw unauthorized();
  }
}
