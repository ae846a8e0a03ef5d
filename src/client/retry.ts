import {
  InvalidArgumentError,
  NoLeaderError,
  NotLeaderError,
  OverloadedError,
  UnavailableError,
  type TestudoError,
} from './errors.js';

export interface RetryOptions {
  /** Attempts per operation, the first one included. */
  attemptsMax?: number;
  /** The backoff ceiling before the first retry; it doubles per retry. */
  backoffBaseMs?: number;
  /** The backoff ceiling never grows past this. */
  backoffMaxMs?: number;
}

export type ResolvedRetryOptions = Required<RetryOptions>;

export const RETRY_DEFAULTS: ResolvedRetryOptions = {
  attemptsMax: 20,
  backoffBaseMs: 20,
  backoffMaxMs: 1000,
};

/** A bound on the bound: more attempts than this is a configuration mistake. */
export const retryAttemptsMaxLimit = 10_000;

/**
 * How a request may be retried:
 * - `read`: has no effect, so any retryable error may be retried anywhere.
 * - `write`: carries an idempotency key, so a retry applies at most once.
 * - `admin`: not idempotent (transfer, add, remove); retried only when the
 *   request surely took no effect.
 */
export type CallKind = 'read' | 'write' | 'admin';

export function resolveRetryOptions(options: RetryOptions | undefined): ResolvedRetryOptions {
  const resolved: ResolvedRetryOptions = { ...RETRY_DEFAULTS };
  if (options?.attemptsMax !== undefined) resolved.attemptsMax = options.attemptsMax;
  if (options?.backoffBaseMs !== undefined) resolved.backoffBaseMs = options.backoffBaseMs;
  if (options?.backoffMaxMs !== undefined) resolved.backoffMaxMs = options.backoffMaxMs;
  requireInteger('retry.attemptsMax', resolved.attemptsMax, 1, retryAttemptsMaxLimit);
  requireInteger('retry.backoffBaseMs', resolved.backoffBaseMs, 0, 3_600_000);
  requireInteger('retry.backoffMaxMs', resolved.backoffMaxMs, resolved.backoffBaseMs, 3_600_000);
  return resolved;
}

export function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`, {
      code: 'invalid',
      retryable: false,
    });
  }
}

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff and Jitter"): uniform in [0, min(max, base · 2^retry)). Full jitter
 * spreads the 64 callers that all saw the same leader die.
 */
export function backoffDelayMs(retry: number, options: ResolvedRetryOptions, random: () => number): number {
  // 2^30 is past any sane ceiling; capping the exponent keeps the product finite.
  const ceilingMs = Math.min(options.backoffMaxMs, options.backoffBaseMs * 2 ** Math.min(retry, 30));
  return Math.floor(random() * ceilingMs);
}

/**
 * True when the request surely took no effect: the node refused it before
 * proposing or forwarding it (no leader / not the leader; a coordinator
 * answers these only when no forward of the call may have reached a leader),
 * or it never reached a node. A forward whose answer was lost
 * (ForwardLostError, an UnavailableError sent) may have been applied.
 */
export function surelyNotApplied(error: TestudoError): boolean {
  if (error instanceof NotLeaderError || error instanceof NoLeaderError) return true;
  return error instanceof UnavailableError && error.beforeSend;
}

export function shouldRetry(kind: CallKind, error: TestudoError): boolean {
  if (!error.retryable) return false;
  return kind !== 'admin' || surelyNotApplied(error);
}

/** Overload is the server asking for less traffic: wait even before a redirect. */
export function wantsBackoff(error: TestudoError): boolean {
  return error instanceof OverloadedError;
}
