/**
 * The bounds of the key-value service, and the checks the server runs before
 * it proposes a write. The state machine runs the same checks again at apply
 * time (a command may come from an older or buggy leader), so every replica
 * rejects a bad command the same way.
 *
 * Sizes are UTF-8 bytes, the form in which keys travel and are ordered.
 */

/** Longest key, in UTF-8 bytes. Keys are also non-empty and hold no NUL. */
export const keyBytesMax = 1024;

/** Largest value, in bytes (1 MiB). An empty value is allowed. */
export const valueBytesMax = 1024 * 1024;

/** Longest idempotency key, in UTF-8 bytes. Empty means "no deduplication". */
export const idempotencyKeyBytesMax = 128;

/**
 * Idempotency keys a state machine remembers by default. The oldest (in log
 * order) is forgotten first; a retry that arrives after its key was forgotten
 * applies again. Every replica must use the same bound, or their states
 * diverge.
 */
export const idempotencyKeysMaxDefault = 100_000;

/** Longest member address (host:port) kept in a membership change, in UTF-8 bytes. */
export const memberAddressBytesMax = 255;

/** Items a list returns when the caller asks for 0 (the proto's default). */
export const listLimitDefault = 1000;

/** Most items one list call returns; larger requests are cut to this. */
export const listLimitMax = 10_000;

/**
 * Largest encoded Command: a full key, value and idempotency key plus room
 * for tags, lengths and `proposed_at_ms`. Bigger data is refused at decode.
 */
/**
 * Largest orchestrator payload (compressed) in one command: a run of 50,000
 * tasks deflates to well under this; results and assignments go in batches.
 */
export const orchPayloadBytesMax = 4 * 1024 * 1024;

export const commandBytesMax = Math.max(keyBytesMax + valueBytesMax, orchPayloadBytesMax) + idempotencyKeyBytesMax + 64;

/** An argument breaks a limit or a rule; nothing was written. Not retryable. */
export class InvalidArgumentError extends Error {
  override readonly name = 'InvalidArgumentError';
  readonly retryable = false;
  /** The argument at fault, named as in the request ("key", "value", …). */
  readonly field: string;
  /** Why it was refused, without the field name. */
  readonly reason: string;

  constructor(field: string, reason: string) {
    super(`invalid ${field}: ${reason}`);
    this.field = field;
    this.reason = reason;
  }
}

// A lone surrogate has no UTF-8 form: its byte length and its order would be
// ambiguous, so keys must be well-formed UTF-16.
const loneSurrogatePattern = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** UTF-8 length of a well-formed string. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Why `key` is refused, or null when it is valid. */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'must not be empty';
  const bytes = utf8Bytes(key);
  if (bytes > keyBytesMax) return `is ${bytes} bytes, limit ${keyBytesMax}`;
  if (key.includes('\0')) return 'must not contain NUL';
  if (loneSurrogatePattern.test(key)) return 'is not well-formed Unicode (lone surrogate)';
  return null;
}

/** Why `value` is refused, or null when it is valid. */
export function valueProblem(value: Uint8Array): string | null {
  if (value.byteLength > valueBytesMax) return `is ${value.byteLength} bytes, limit ${valueBytesMax}`;
  return null;
}

/** Why `idempotencyKey` is refused, or null when it is valid (empty is valid). */
export function idempotencyKeyProblem(idempotencyKey: string): string | null {
  const bytes = utf8Bytes(idempotencyKey);
  if (bytes > idempotencyKeyBytesMax) return `is ${bytes} bytes, limit ${idempotencyKeyBytesMax}`;
  if (loneSurrogatePattern.test(idempotencyKey)) return 'is not well-formed Unicode (lone surrogate)';
  return null;
}

/** Why `address` is refused, or null when it is valid (empty is valid: unknown). */
export function memberAddressProblem(address: string): string | null {
  const bytes = utf8Bytes(address);
  if (bytes > memberAddressBytesMax) return `is ${bytes} bytes, limit ${memberAddressBytesMax}`;
  return null;
}

/**
 * Why a list bound (`prefix` or `start_after`) is refused, or null. Unlike a
 * key it may be empty; it obeys every other key rule.
 */
export function keyBoundProblem(bound: string): string | null {
  return bound.length === 0 ? null : keyProblem(bound);
}

export function validateKey(key: string, field = 'key'): void {
  const problem = keyProblem(key);
  if (problem !== null) throw new InvalidArgumentError(field, problem);
}

export function validateKeyBound(bound: string, field: 'prefix' | 'start_after'): void {
  const problem = keyBoundProblem(bound);
  if (problem !== null) throw new InvalidArgumentError(field, problem);
}

export function validateValue(value: Uint8Array, field = 'value'): void {
  const problem = valueProblem(value);
  if (problem !== null) throw new InvalidArgumentError(field, problem);
}

export function validateIdempotencyKey(idempotencyKey: string, field = 'idempotency_key'): void {
  const problem = idempotencyKeyProblem(idempotencyKey);
  if (problem !== null) throw new InvalidArgumentError(field, problem);
}

export function validateMemberAddress(address: string, field = 'address'): void {
  const problem = memberAddressProblem(address);
  if (problem !== null) throw new InvalidArgumentError(field, problem);
}

/**
 * The item count a list call returns for a requested `limit`: 0 (or absent)
 * means `listLimitDefault`; anything above `listLimitMax` is cut to it.
 */
export function resolveListLimit(limit: number | undefined): number {
  if (limit === undefined || limit === 0) return listLimitDefault;
  if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidArgumentError('limit', `must be a non-negative integer, got ${limit}`);
  return Math.min(limit, listLimitMax);
}
