/**
 * Invariant checks. A failed assert means Testudo's own code is wrong: the
 * process must stop rather than carry on, so callers never catch this class
 * except to rethrow it (src/raft/node/node.ts) or, in tests, to expect it.
 */

/** A broken invariant. */
export class AssertionFailure extends Error {
  override readonly name = 'AssertionFailure';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailure(message);
}
