import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { ErrorCode } from '@reputation-monitor/contracts';
import { ProblemException, problem } from '../problem/problem';
import { GATEWAY_CONFIG } from '../tokens';
import type { GatewayConfig } from '../gateway-config';

const PUBLIC_ROUTE = 'public-route';
/** Marks a controller or route as open even when API keys are configured (health checks). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * When API_KEYS is set, every route not marked @Public needs one, as `Authorization: Bearer <key>`
 * or `x-api-key: <key>`. Keys are compared as SHA-256 digests with timingSafeEqual, against every
 * configured key, so timing reveals neither which key nor how much of it matched.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly digests: Buffer[];

  constructor(
    private readonly reflector: Reflector,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    this.digests = config.apiKeys.map(digest);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.digests.length === 0) return true;
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_ROUTE, [context.getHandler(), context.getClass()]))
      return true;
    const request = context.switchToHttp().getRequest<Request>();
    const presented = presentedKey(request);
    if (presented !== undefined) {
      const candidate = digest(presented);
      let match = false;
      for (const known of this.digests) match = timingSafeEqual(candidate, known) || match;
      if (match) return true;
    }
    throw new ProblemException(
      problem(
        401,
        ErrorCode.Unauthorized,
        'a valid API key is required (Authorization: Bearer <key> or x-api-key)',
      ),
      { 'www-authenticate': 'Bearer realm="reputation-monitor"' },
    );
  }
}

function presentedKey(request: Request): string | undefined {
  const header = request.headers['x-api-key'];
  if (typeof header === 'string' && header.length > 0) return header;
  const authorization = request.headers.authorization;
  const match = authorization?.match(/^Bearer\s+(.+)$/i);
  return match?.[1];
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key).digest();
}
