import { randomUUID } from 'node:crypto';
import { Metadata } from '@grpc/grpc-js';
import { authorizationKey, bearer, tokenProblem } from '../security/auth-token.js';
import type { ConnectionSettings } from './connection.js';
import { requireEndpoints } from './endpoints.js';
import { InvalidArgumentError, TestudoError } from './errors.js';
import { requireInteger, resolveRetryOptions } from './retry.js';
import { AddressRoutes } from './routes.js';
import type { TestudoClientOptions } from './types.js';

// Checks of what callers hand the client, its defaults and bounds, and the
// small helpers its files share.

export const CLIENT_DEFAULTS = {
  callTimeoutMs: 5_000,
  totalTimeoutMs: 30_000,
  watchIdleMs: 5_000,
  messageBytesMax: 16 * 1024 * 1024,
} as const;

/** grpc-js keeps message lengths in an int32. */
export const messageBytesMaxLimit = 2 ** 31 - 1;
/** The server's own bound on one List page (see ListRequest.limit). */
export const listLimitMax = 10_000;
/** Generated idempotency keys are `${clientId}-${n}`; keep them short. */
export const clientIdLengthMax = 128;
/** Longest timeout a caller may set (a day). */
export const timeoutMsMax = 24 * 3_600_000;

/** A TestudoClient's options, checked (InvalidArgumentError on the first bad one) and with their defaults. */
export function resolveClientOptions(options: TestudoClientOptions): {
  readonly clientId: string;
  readonly watchIdleMs: number;
  readonly batchWrites: boolean;
  readonly connection: ConnectionSettings;
} {
  const endpoints = requireEndpoints(options.endpoints);
  const callTimeoutMs = options.callTimeoutMs ?? CLIENT_DEFAULTS.callTimeoutMs;
  const totalTimeoutMs = options.totalTimeoutMs ?? CLIENT_DEFAULTS.totalTimeoutMs;
  const messageBytesMax = options.messageBytesMax ?? CLIENT_DEFAULTS.messageBytesMax;
  const watchIdleMs = options.watchIdleMs ?? CLIENT_DEFAULTS.watchIdleMs;
  const callMetadata = callMetadataFor(options.token);
  requireInteger('callTimeoutMs', callTimeoutMs, 1, timeoutMsMax);
  requireInteger('totalTimeoutMs', totalTimeoutMs, 1, timeoutMsMax);
  requireInteger('watchIdleMs', watchIdleMs, 1, timeoutMsMax);
  requireInteger('messageBytesMax', messageBytesMax, 1024, messageBytesMaxLimit);
  const retry = resolveRetryOptions(options.retry);
  const clientId = options.clientId ?? randomUUID();
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > clientIdLengthMax) {
    throw invalid(`clientId must be a string of 1..${clientIdLengthMax} characters`);
  }
  const routes = options.routes ?? AddressRoutes.none;
  const batchWrites = options.batchWrites ?? true;
  if (typeof batchWrites !== 'boolean') throw invalid('batchWrites must be a boolean');
  return { clientId, watchIdleMs, batchWrites, connection: { endpoints, callTimeoutMs, totalTimeoutMs, retry, messageBytesMax, routes, credentials: options.credentials, callMetadata } };
}

export function toBytes(value: Uint8Array | string): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  throw invalid('value must be a Uint8Array or a string');
}

export function requireKey(key: string): string {
  if (typeof key !== 'string') throw invalid('key must be a string');
  return key;
}

export function requireId(name: string, id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw invalid(`${name} must be a non-empty member id`);
  return id;
}

/** The metadata every call carries: the token, checked here so a bad one fails before any call (its text is never quoted). */
function callMetadataFor(token: string | undefined): Metadata {
  const metadata = new Metadata();
  if (token === undefined) return metadata;
  const problem = typeof token === 'string' ? tokenProblem(token) : 'token must be a string';
  if (problem !== null) throw invalid(`token: ${problem}`);
  metadata.set(authorizationKey, bearer(token));
  return metadata;
}

export function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message, { code: 'invalid', retryable: false });
}

export function first(list: readonly string[]): string {
  return at(list, 0);
}

export function at(list: readonly string[], index: number): string {
  const value = list[index];
  assert(value !== undefined, `index ${index} outside a list of ${list.length}`);
  return value;
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new TestudoError(`broken invariant: ${message}`, { code: 'INTERNAL', retryable: false });
}
