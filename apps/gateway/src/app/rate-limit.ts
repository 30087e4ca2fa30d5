import { ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { ThrottlerGuard, ThrottlerLimitDetail } from '@nestjs/throttler';
import type { Request } from 'express';
import { ErrorCode } from '@reputation-monitor/contracts';
import { ProblemException, callerOf, isPublicRoute, problem } from '@reputation-monitor/http-edge';

/** The window RATE_LIMIT_PER_MINUTE counts in. */
export const RATE_LIMIT_WINDOW_MS = 60_000;

/**
 * @nestjs/throttler per tenant (the API key's), counted in Redis so every gateway replica shares one budget.
 * Runs after the key guard, which names the tenant; health and metrics are never limited. Over the limit:
 * 429 `rate_limited` with Retry-After, distinct from `queue_full` (the system is busy, not this key).
 */
@Injectable()
export class TenantThrottlerGuard extends ThrottlerGuard {
  private readonly limitLogger = new Logger('RateLimit');

  /**
   * Fails open when the counters cannot be read (Redis down or full): the request then stands or falls on
   * its own (bad input is still a 422; work that needs Redis gets its 503), rather than every answer
   * becoming a 503 of the limiter's.
   */
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return await super.canActivate(context);
    } catch (error) {
      if (error instanceof ProblemException) throw error;
      this.limitLogger.warn(`rate limit not counted: ${(error as Error).message}`);
      return true;
    }
  }

  /** Limits are per key: public routes and anonymous callers (an API served without keys) are not counted. */
  protected override async shouldSkip(context: ExecutionContext): Promise<boolean> {
    if (isPublicRoute(this.reflector, context)) return true;
    return callerOf(context.switchToHttp().getRequest<Request>()).tenant === undefined;
  }

  protected override async getTracker(request: Request): Promise<string> {
    return callerOf(request).tenant ?? 'anonymous';
  }

  /** One budget per tenant across every route, readable in Redis (`<prefix>:rate-limit:{default:acme}:hits`). */
  protected override generateKey(_context: ExecutionContext, tracker: string, name: string): string {
    return `${name}:${tracker}`;
  }

  protected override async throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    const retryAfter = Math.max(1, detail.timeToBlockExpire);
    throw new ProblemException(
      problem(
        429,
        ErrorCode.RateLimited,
        `this key sent more than ${detail.limit} requests in ${detail.ttl / 1000} s; retry in ${retryAfter} s`,
      ),
      { 'retry-after': String(retryAfter) },
    );
  }
}
