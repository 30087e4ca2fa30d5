import {
  CanActivate,
  ExecutionContext,
  Injectable,
  Optional,
  SetMetadata,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { sendProblem } from './problem-filter';
import { ErrorCode } from '@reputation-monitor/contracts';
import { ProblemException, problem } from './problem';
import { AdminApiKeys, ApiKeys } from './api-keys';

const PUBLIC_ROUTE = 'public-route';
const ADMIN_ROUTE = 'admin-route';
/** Marks a controller or route as open even when API keys are configured (health checks, metrics). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
/** Marks a controller or route as admin only: it needs one of ADMIN_API_KEYS, whatever API_KEYS says. */
export const AdminOnly = () => SetMetadata(ADMIN_ROUTE, true);

/** True for routes marked @Public (health, metrics), which other guards such as rate limits leave alone. */
export function isPublicRoute(reflector: Reflector, context: ExecutionContext): boolean {
  return (
    reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]) === true
  );
}

/** Who is calling, as the guard found it: the key's tenant (none without keys) and whether it is an admin key. */
export interface Caller {
  tenant: string | undefined;
  admin: boolean;
}

const CALLER = Symbol('caller');
type WithCaller = Request & { [CALLER]?: Caller };

/** The caller of a request the guard let through; anonymous (no tenant) on public routes. */
export function callerOf(request: Request): Caller {
  return (request as WithCaller)[CALLER] ?? { tenant: undefined, admin: false };
}

/** Route parameter: the caller's tenant, which owns the jobs and labels it creates. */
export const CallerTenant = createParamDecorator(
  (_data: unknown, context: ExecutionContext) => callerOf(context.switchToHttp().getRequest()).tenant,
);

/** Route parameter: the request's id (set by the request logger from x-request-id, or made). */
export const RequestId = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const id = context.switchToHttp().getRequest<Request & { id?: unknown }>().id;
  return typeof id === 'string' ? id : undefined;
});

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
 * Express middleware for the API's paths, mounted before body parsing: when client keys are required, a
 * request presenting no valid key (client or admin) is answered 401 before its body is read, so nobody without
 * a key can make the app read and parse MAX_BODY_BYTES. Roles are still the guard's (after parsing).
 */
export function requireKeyBeforeBody(keys: ApiKeys, adminKeys: AdminApiKeys) {
  return (request: Request, response: Response, next: NextFunction) => {
    if (!keys.required || keys.matches(request) || adminKeys.matches(request)) return next();
    const refusal = unauthorized();
    sendProblem(response, refusal.details, refusal.headers);
  };
}

/**
 * When API_KEYS is set, every route not marked @Public needs a key (an admin key counts too). Routes marked
 * @AdminOnly need an admin key: 401 without a key, 403 with a client key or when no admin key is configured.
 * The caller found (tenant, admin or not) is kept on the request for `callerOf` / `@CallerTenant()`.
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
    const request = context.switchToHttp().getRequest<WithCaller>();
    const adminTenant = this.adminKeys?.tenantOf(request);
    if (this.reflector.getAllAndOverride<boolean>(ADMIN_ROUTE, targets)) {
      if (!this.adminKeys?.required)
        throw forbidden('the admin API is off: no ADMIN_API_KEYS are configured');
      if (adminTenant !== undefined) {
        request[CALLER] = { tenant: adminTenant, admin: true };
        return true;
      }
      if (this.keys.required && this.keys.matches(request)) throw forbidden('this route needs an admin key');
      throw unauthorized();
    }
    if (adminTenant !== undefined) {
      request[CALLER] = { tenant: adminTenant, admin: true };
      return true;
    }
    const tenant = this.keys.tenantOf(request);
    if (tenant !== undefined || !this.keys.required) {
      request[CALLER] = { tenant, admin: false };
      return true;
    }
    throw unauthorized();
  }
}
