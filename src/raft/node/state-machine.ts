import type { ConfChange } from '../core/types.js';

/**
 * The replicated application a RaftNode drives.
 *
 * Contract (hashicorp/raft's FSM, tightened):
 * - Every call is deterministic: the result depends only on the current state
 *   and the arguments. No clock, no randomness, no I/O, no iteration order
 *   that depends on timing. Times a command needs are inside the command.
 * - The node calls `applyCommand`/`applyConfChange`/`applyEmpty` once per
 *   committed entry, in log order, with strictly increasing indexes.
 * - `snapshot()` captures everything up to `appliedIndex`; `restore` replaces
 *   the whole state with a snapshot's and sets `appliedIndex` to it.
 * - `snapshotInSlices()`, if the machine has it, captures the same state at
 *   once, by reference and without encoding it, and returns a generator that
 *   encodes it a bounded slice per `next()`; the last `next()` returns exactly
 *   the bytes `snapshot()` would have returned at the capture. The node keeps
 *   applying entries between slices, so what was captured must not change
 *   under the generator.
 * - `digest()` is equal on two replicas exactly when their states are equal.
 * - A command that cannot be decoded or is invalid must not throw: apply is
 *   deterministic, so every replica rejects it the same way; it returns an
 *   error result instead.
 */
export interface StateMachine<Result = unknown> {
  readonly appliedIndex: number;
  applyCommand(index: number, data: Uint8Array): Result;
  applyConfChange(index: number, change: ConfChange): void;
  /** An entry with no data (a new leader's first entry). */
  applyEmpty(index: number): void;
  snapshot(): Uint8Array;
  snapshotInSlices?(): Generator<void, Uint8Array, void>;
  restore(data: Uint8Array): void;
  digest(): string;
}
