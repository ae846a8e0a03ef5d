import { createHash } from 'node:crypto';

import { assert, ConfChangeType, type ConfChange } from '../raft/index.js';
import {
  CommandDecodeError,
  decodeCommand,
  decodeMachineSnapshot,
  decodeMemberContext,
  machineSnapshotFormatVersion,
  MemberContextDecodeError,
  SnapshotDecodeError,
  validateCommand,
  type BatchedPut,
  type Command,
  type IdempotencyKind,
  type IdempotencyRecord,
  type KeyValue,
  type MachineSnapshot,
  type Member,
  type MemberKind,
} from './codec.js';
import { idempotencyKeyProblem, idempotencyKeysMaxDefault, keyProblem, resolveListLimit, valueProblem } from './limits.js';
import { drainSlices, encodeMachineSnapshotSlices, scanMachineSnapshotSlices, snapshotSliceRecords } from './snapshot-wire.js';
import type { StateMachine } from './state-machine.js';

/** What applying one command gave. Equal on every replica for the same entry. */
export type ApplyResult =
  | { readonly ok: true; readonly kind: 'put'; readonly index: number; readonly duplicate: boolean }
  | { readonly ok: true; readonly kind: 'delete'; readonly index: number; readonly duplicate: boolean; readonly existed: boolean }
  | { readonly ok: true; readonly kind: 'noop'; readonly index: number; readonly duplicate: boolean }
  /** `value` is the extension's result; null for a duplicate (the first result is not kept). */
  | { readonly ok: true; readonly kind: 'orch'; readonly index: number; readonly duplicate: boolean; readonly value: unknown }
  /** A PutMany's writes: one result each, in order; `duplicate` is the entry's own (always false, a batch has no key of its own). */
  | { readonly ok: true; readonly kind: 'put-batch'; readonly index: number; readonly duplicate: false; readonly results: readonly BatchedPutResult[] }
  /** Nothing was written; `index` is the rejected entry's. */
  | { readonly ok: false; readonly error: 'invalid'; readonly message: string; readonly index: number };

/**
 * One write of a batch: applied at the batch's index, answered as a
 * duplicate with its first index, or refused alone (its idempotency key was
 * first used for something other than a put; nothing written for it).
 */
export type BatchedPutResult = { readonly ok: true; readonly index: number; readonly duplicate: boolean } | { readonly ok: false; readonly message: string };

/** A command that was applied (or answered as a duplicate). */
export type ApplyOk = Extract<ApplyResult, { ok: true }>;
/** A command every replica refused; nothing was written. */
export type ApplyRejected = Extract<ApplyResult, { ok: false }>;

/**
 * A second state kept by the same machine (the orchestrator): its commands
 * travel as `orch` ops, and its state rides in the snapshot. Same contract
 * as StateMachine: deterministic, no clock.
 */
export interface MachineExtension {
  /**
   * Applies one command. Throws ExtensionCommandError to reject it (every
   * replica rejects it the same way, nothing changed); any other throw is a
   * broken invariant.
   */
  apply(index: number, proposedAtMs: number, payload: Uint8Array, deflated: boolean): unknown;
  /** Canonical bytes of the state; empty when there is none. */
  snapshot(): Uint8Array;
  /** Replaces the state (empty bytes: the empty state); throws SnapshotDecodeError on bad data. */
  restore(data: Uint8Array): void;
}

/** An extension refused a command; nothing changed. */
export class ExtensionCommandError extends Error {
  override readonly name = 'ExtensionCommandError';
}

export interface KvMachineOptions {
  /** The orchestrator, or absent for a plain key-value machine. */
  readonly extension?: MachineExtension;
  /**
   * Idempotency keys remembered; the oldest in log order is forgotten first.
   * Must be the same on every replica. Default `idempotencyKeysMaxDefault`.
   */
  readonly idempotencyKeysMax?: number;
}

export interface ListOptions {
  /** Only keys starting with this; empty: every key. */
  readonly prefix?: string;
  /** Only keys strictly after this one (for paging); empty: from the start. */
  readonly startAfter?: string;
  /** 0 or absent: `listLimitDefault`; more than `listLimitMax` is cut to it. */
  readonly limit?: number;
}

export interface ListResult {
  readonly items: readonly KeyValue[];
  /** More keys match after the last one returned. */
  readonly more: boolean;
}

interface StoredValue {
  readonly value: Uint8Array;
  readonly modIndex: number;
}

interface StoredMember {
  readonly address: string;
  readonly kind: MemberKind;
}

interface StoredIdempotency {
  readonly index: number;
  readonly existed: boolean;
  readonly kind: IdempotencyKind;
}

/**
 * Orders strings as their UTF-8 bytes compare (which is Unicode code point
 * order), not as JavaScript's `<` does (UTF-16 code units): a supplementary
 * character (surrogate pair) sorts after U+E000..U+FFFF, as in UTF-8. Keys,
 * member ids and list bounds all use this order.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codeUnitRank(x) - codeUnitRank(y);
  }
  return a.length - b.length;
}

// Moves surrogates (0xD800..0xDFFF) above every other code unit, keeping the
// order within each group: at the first differing unit of two well-formed
// strings, this makes code-unit order agree with code-point order.
function codeUnitRank(unit: number): number {
  if (unit < 0xd800) return unit;
  if (unit < 0xe000) return unit + 0x2000;
  return unit - 0x800;
}

/** Pending keys kept unmerged before a merge is forced, beyond the key count. */
const pendingKeysSlack = 1024;

/**
 * The coordinator's replicated key-value state: keys and values, the cluster
 * members (from membership change entries) and a bounded idempotency table.
 *
 * Determinism (see StateMachine): nothing here reads a clock or iterates in an
 * order that depends on timing. The idempotency table is a Map whose
 * insertion order is log order (entries arrive with increasing indexes), so
 * FIFO eviction is the same on every replica. Keys are kept in a Map (O(1)
 * put/get) plus a sorted key array that is brought up to date lazily, when a
 * list or snapshot needs order: new keys queue in `pendingKeys` and are merged
 * in O(n + k log k), so paging through an unchanged state costs O(log n + page).
 *
 * Values returned by reads are the stored arrays: callers must not mutate them.
 */
export class KvMachine implements StateMachine<ApplyResult> {
  readonly idempotencyKeysMax: number;
  private readonly extension: MachineExtension | undefined;
  private appliedIndexValue = 0;
  private entries = new Map<string, StoredValue>();
  /** Sorted by compareKeys; may hold deleted keys while `sortedStale`. */
  private sortedKeys: string[] = [];
  /** Keys added since the last merge (unsorted, may repeat or be deleted). */
  private pendingKeys: string[] = [];
  /** A key was deleted since the last merge. */
  private sortedStale = false;
  private membersById = new Map<string, StoredMember>();
  /** Insertion order is log order: the first key is the oldest. */
  private idempotency = new Map<string, StoredIdempotency>();

  constructor(options: KvMachineOptions = {}) {
    const max = options.idempotencyKeysMax ?? idempotencyKeysMaxDefault;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`idempotencyKeysMax must be a positive integer, got ${max}`);
    this.idempotencyKeysMax = max;
    this.extension = options.extension;
  }

  get appliedIndex(): number {
    return this.appliedIndexValue;
  }

  /** Keys held. */
  get size(): number {
    return this.entries.size;
  }

  /** Idempotency keys remembered (at most `idempotencyKeysMax`). */
  get idempotencyKeyCount(): number {
    return this.idempotency.size;
  }

  // ---------------------------------------------------------------- apply

  applyCommand(index: number, data: Uint8Array): ApplyResult {
    this.advance(index);
    let cmd: Command;
    try {
      cmd = decodeCommand(data);
    } catch (error) {
      if (error instanceof CommandDecodeError) return { ok: false, error: 'invalid', message: error.message, index };
      throw error;
    }
    const problem = validateCommand(cmd);
    if (problem !== null) return { ok: false, error: 'invalid', message: problem, index };
    if (cmd.idempotencyKey !== '') {
      const first = this.idempotency.get(cmd.idempotencyKey);
      if (first !== undefined) return duplicateResult(cmd, first, index);
    }
    const result = this.applyOp(index, cmd);
    // A refused command changed nothing: its key stays free, so a corrected retry is applied, not answered as a duplicate.
    if (cmd.idempotencyKey !== '' && result.ok && cmd.op.type !== 'put-batch') {
      this.remember(cmd.idempotencyKey, { index, existed: result.ok && result.kind === 'delete' && result.existed, kind: cmd.op.type });
    }
    return result;
  }

  applyConfChange(index: number, change: ConfChange): void {
    this.advance(index);
    const known = this.membersById.get(change.nodeId);
    switch (change.type) {
      case ConfChangeType.AddVoter:
      case ConfChangeType.AddLearner: {
        const address = contextAddress(change.context) ?? known?.address ?? '';
        const kind: MemberKind = change.type === ConfChangeType.AddVoter ? 'voter' : 'learner';
        this.membersById.set(change.nodeId, { address, kind });
        return;
      }
      case ConfChangeType.RemoveNode:
        this.membersById.delete(change.nodeId);
        return;
      default:
        assert(false, `unknown conf change type ${String(change.type)} at index ${index}`);
    }
  }

  applyEmpty(index: number): void {
    this.advance(index);
  }

  private advance(index: number): void {
    assert(Number.isSafeInteger(index), `applied index ${index} is not an integer`);
    assert(index > this.appliedIndexValue, `applied index must increase: got ${index} after ${this.appliedIndexValue}`);
    this.appliedIndexValue = index;
  }

  private applyOp(index: number, cmd: Command): ApplyResult {
    const op = cmd.op;
    switch (op.type) {
      case 'put': {
        const added = !this.entries.has(op.key);
        this.entries.set(op.key, { value: op.value, modIndex: index });
        if (added) this.notePendingKey(op.key);
        return { ok: true, kind: 'put', index, duplicate: false };
      }
      case 'delete': {
        const existed = this.entries.delete(op.key);
        if (existed) this.sortedStale = true;
        return { ok: true, kind: 'delete', index, duplicate: false, existed };
      }
      case 'noop':
        return { ok: true, kind: 'noop', index, duplicate: false };
      case 'put-batch':
        return { ok: true, kind: 'put-batch', index, duplicate: false, results: op.puts.map((put) => this.applyBatchedPut(index, put)) };
      case 'orch': {
        if (this.extension === undefined) return { ok: false, error: 'invalid', message: 'this machine has no orchestrator', index };
        try {
          const value = this.extension.apply(index, cmd.proposedAtMs, op.payload, op.deflated);
          return { ok: true, kind: 'orch', index, duplicate: false, value };
        } catch (error) {
          if (error instanceof ExtensionCommandError) return { ok: false, error: 'invalid', message: error.message, index };
          throw error;
        }
      }
    }
  }

  /** One write of a batch, deduplicated and remembered as a lone put would be. */
  private applyBatchedPut(index: number, put: BatchedPut): BatchedPutResult {
    const first = this.idempotency.get(put.idempotencyKey);
    if (first !== undefined) {
      if (first.kind !== 'put') {
        return { ok: false, message: `idempotency key ${JSON.stringify(put.idempotencyKey)} was first used for a ${first.kind} at index ${first.index}, not a put` };
      }
      return { ok: true, index: first.index, duplicate: true };
    }
    const added = !this.entries.has(put.key);
    this.entries.set(put.key, { value: put.value, modIndex: index });
    if (added) this.notePendingKey(put.key);
    this.remember(put.idempotencyKey, { index, existed: false, kind: 'put' });
    return { ok: true, index, duplicate: false };
  }

  private remember(key: string, record: StoredIdempotency): void {
    assert(!this.idempotency.has(key), `idempotency key ${JSON.stringify(key)} remembered twice`);
    this.idempotency.set(key, record);
    while (this.idempotency.size > this.idempotencyKeysMax) {
      const oldest = this.idempotency.keys().next();
      assert(oldest.done !== true, 'idempotency table over its bound yet empty');
      this.idempotency.delete(oldest.value);
    }
  }

  private notePendingKey(key: string): void {
    this.pendingKeys.push(key);
    // Bound the queue when keys come and go without a list to merge them.
    if (this.pendingKeys.length > this.entries.size + pendingKeysSlack) this.mergeSortedKeys();
  }

  // ---------------------------------------------------------------- reads

  get(key: string): KeyValue | undefined {
    const stored = this.entries.get(key);
    return stored === undefined ? undefined : { key, value: stored.value, modIndex: stored.modIndex };
  }

  /** Keys in compareKeys (UTF-8 byte) order; see ListOptions. */
  list(options: ListOptions = {}): ListResult {
    const prefix = options.prefix ?? '';
    const startAfter = options.startAfter ?? '';
    const limit = resolveListLimit(options.limit);
    const keys = this.sorted();
    let position = lowerBound(keys, prefix);
    if (startAfter !== '') position = Math.max(position, upperBound(keys, startAfter));
    const items: KeyValue[] = [];
    for (; position < keys.length; position++) {
      const key = keys[position];
      assert(key !== undefined, 'sorted key array has a hole');
      if (!key.startsWith(prefix)) break;
      if (items.length === limit) return { items, more: true };
      const stored = this.entries.get(key);
      assert(stored !== undefined, `sorted key ${JSON.stringify(key)} has no value`);
      items.push({ key, value: stored.value, modIndex: stored.modIndex });
    }
    return { items, more: false };
  }

  /** Every member, sorted by id (compareKeys order). */
  members(): Member[] {
    const ids = [...this.membersById.keys()].sort(compareKeys);
    return ids.map((id) => {
      const member = this.membersById.get(id);
      assert(member !== undefined, `member ${id} vanished`);
      return { id, address: member.address, kind: member.kind };
    });
  }

  /** Every live key in order; merges pending keys first. */
  private sorted(): readonly string[] {
    if (this.pendingKeys.length > 0 || this.sortedStale) this.mergeSortedKeys();
    assert(this.sortedKeys.length === this.entries.size, 'sorted keys and entries disagree');
    return this.sortedKeys;
  }

  private mergeSortedKeys(): void {
    const pending = this.pendingKeys.sort(compareKeys);
    const old = this.sortedKeys;
    const merged: string[] = [];
    let i = 0;
    let j = 0;
    while (i < old.length || j < pending.length) {
      const a = old[i];
      const b = pending[j];
      let next: string;
      if (b === undefined || (a !== undefined && compareKeys(a, b) <= 0)) {
        next = a as string;
        i++;
      } else {
        next = b;
        j++;
      }
      const last = merged[merged.length - 1];
      if (this.entries.has(next) && (last === undefined || last !== next)) merged.push(next);
    }
    this.sortedKeys = merged;
    this.pendingKeys = [];
    this.sortedStale = false;
  }

  // ------------------------------------------------------------- snapshots

  /** The state as canonical bytes: items by key, members by id, idempotency oldest first. */
  snapshot(): Uint8Array {
    return drainSlices(this.snapshotInSlices());
  }

  /**
   * `snapshot()` a slice at a time (StateMachine.snapshotInSlices). The
   * capture holds references only, to things later applies replace but never
   * change: the sorted key array (a merge builds a new one), each key's
   * stored value (a put stores a new one), the idempotency table's keys and
   * records in order, the members. The orchestrator's state changes in place,
   * so its bytes are made now.
   */
  snapshotInSlices(): Generator<void, Uint8Array, void> {
    return encodeCaptured(this.capture(), true);
  }

  /**
   * sha256 (hex) of the canonical snapshot: equal exactly when states are
   * equal. The same bytes as `snapshot()`, without its structural scan of
   * them (a check of the encoder, which the snapshots run).
   */
  digest(): string {
    return createHash('sha256').update(drainSlices(encodeCaptured(this.capture(), false))).digest('hex');
  }

  /** The state by reference, for encodeCaptured (see snapshotInSlices). */
  private capture(): CapturedState {
    const keys = this.sorted();
    const stored = keys.map((key) => {
      const value = this.entries.get(key);
      assert(value !== undefined, `sorted key ${JSON.stringify(key)} has no value`);
      return value;
    });
    return {
      appliedIndex: this.appliedIndexValue,
      keys,
      stored,
      idempotencyKeys: [...this.idempotency.keys()],
      idempotencyRecords: [...this.idempotency.values()],
      members: this.members(),
      orchestrator: this.extension?.snapshot() ?? new Uint8Array(0),
    };
  }

  /**
   * Replaces the whole state with a snapshot's. Throws SnapshotDecodeError on
   * malformed or inconsistent data, leaving the state as it was. A snapshot
   * with more idempotency keys than this machine's bound keeps the newest.
   */
  restore(data: Uint8Array): void {
    const snapshot = decodeMachineSnapshot(data);
    const entries = restoreItems(snapshot);
    const members = restoreMembers(snapshot);
    const idempotency = restoreIdempotency(snapshot, this.idempotencyKeysMax);
    if (this.extension !== undefined) this.extension.restore(snapshot.orchestrator);
    else if (snapshot.orchestrator.byteLength > 0) throw new SnapshotDecodeError('the snapshot has orchestrator state but this machine has no orchestrator');
    const sortedKeys = [...entries.keys()].sort(compareKeys);
    for (let i = 1; i < sortedKeys.length; i++) {
      assert(compareKeys(sortedKeys[i - 1] as string, sortedKeys[i] as string) < 0, 'restored keys are not strictly ordered');
    }
    this.appliedIndexValue = snapshot.appliedIndex;
    this.entries = entries;
    this.sortedKeys = sortedKeys;
    this.pendingKeys = [];
    this.sortedStale = false;
    this.membersById = members;
    this.idempotency = idempotency;
  }
}

/** What KvMachine.snapshotInSlices captured: references, encoded later. */
interface CapturedState {
  readonly appliedIndex: number;
  /** Sorted; `stored[i]` is `keys[i]`'s value. */
  readonly keys: readonly string[];
  readonly stored: readonly StoredValue[];
  /** Oldest first; `idempotencyRecords[i]` is `idempotencyKeys[i]`'s. */
  readonly idempotencyKeys: readonly string[];
  readonly idempotencyRecords: readonly StoredIdempotency[];
  readonly members: readonly Member[];
  readonly orchestrator: Uint8Array;
}

/**
 * Encodes a captured state a slice at a time and, with `scan`, walks every
 * field of every record of the bytes (as strict as decoding them back, at a
 * fraction of the cost) before returning them.
 */
function* encodeCaptured(captured: CapturedState, scan: boolean): Generator<void, Uint8Array, void> {
  const items: KeyValue[] = new Array<KeyValue>(captured.keys.length);
  for (let i = 0; i < items.length; i++) {
    const stored = captured.stored[i]!;
    items[i] = { key: captured.keys[i]!, value: stored.value, modIndex: stored.modIndex };
    if ((i + 1) % snapshotSliceRecords === 0) yield;
  }
  const idempotency: IdempotencyRecord[] = new Array<IdempotencyRecord>(captured.idempotencyKeys.length);
  for (let i = 0; i < idempotency.length; i++) {
    idempotency[i] = { key: captured.idempotencyKeys[i]!, ...captured.idempotencyRecords[i]! };
    if ((i + 1) % snapshotSliceRecords === 0) yield;
  }
  const state: MachineSnapshot = {
    formatVersion: machineSnapshotFormatVersion,
    appliedIndex: captured.appliedIndex,
    items,
    members: captured.members,
    idempotency,
    orchestrator: captured.orchestrator,
  };
  const data = yield* encodeMachineSnapshotSlices(state);
  if (!scan) return data;
  const back = yield* scanMachineSnapshotSlices(data);
  assert(
    back.formatVersion === state.formatVersion &&
      back.appliedIndex === state.appliedIndex &&
      back.items === state.items.length &&
      back.members === state.members.length &&
      back.idempotency === state.idempotency.length,
    'snapshot does not survive its encoding',
  );
  return data;
}

function duplicateResult(cmd: Command, first: StoredIdempotency, index: number): ApplyResult {
  if (first.kind !== cmd.op.type) {
    const message = `idempotency key ${JSON.stringify(cmd.idempotencyKey)} was first used for a ${first.kind} at index ${first.index}, not a ${cmd.op.type}`;
    return { ok: false, error: 'invalid', message, index };
  }
  switch (first.kind) {
    case 'put':
      return { ok: true, kind: 'put', index: first.index, duplicate: true };
    case 'delete':
      return { ok: true, kind: 'delete', index: first.index, duplicate: true, existed: first.existed };
    case 'noop':
      return { ok: true, kind: 'noop', index: first.index, duplicate: true };
    case 'orch':
      return { ok: true, kind: 'orch', index: first.index, duplicate: true, value: null };
  }
}

/**
 * The address in a membership change's context, or null to keep the one
 * known. A context that does not decode is treated as empty rather than
 * thrown: the change is already in the log, and throwing would stop every
 * replica at the same entry forever.
 */
function contextAddress(context: Uint8Array): string | null {
  if (context.byteLength === 0) return null;
  try {
    const { address } = decodeMemberContext(context);
    return address === '' ? null : address;
  } catch (error) {
    if (error instanceof MemberContextDecodeError) return null;
    throw error;
  }
}

function restoreItems(snapshot: MachineSnapshot): Map<string, StoredValue> {
  const entries = new Map<string, StoredValue>();
  for (const item of snapshot.items) {
    const problem = keyProblem(item.key) ?? valueProblem(item.value);
    if (problem !== null) throw new SnapshotDecodeError(`item ${JSON.stringify(item.key)}: ${problem}`);
    if (entries.has(item.key)) throw new SnapshotDecodeError(`item ${JSON.stringify(item.key)} appears twice`);
    if (item.modIndex < 1 || item.modIndex > snapshot.appliedIndex) {
      throw new SnapshotDecodeError(`item ${JSON.stringify(item.key)} has mod_index ${item.modIndex} outside 1..${snapshot.appliedIndex}`);
    }
    entries.set(item.key, { value: item.value, modIndex: item.modIndex });
  }
  return entries;
}

function restoreMembers(snapshot: MachineSnapshot): Map<string, StoredMember> {
  const members = new Map<string, StoredMember>();
  for (const member of snapshot.members) {
    if (member.id === '') throw new SnapshotDecodeError('a member has an empty id');
    if (members.has(member.id)) throw new SnapshotDecodeError(`member ${member.id} appears twice`);
    members.set(member.id, { address: member.address, kind: member.kind });
  }
  return members;
}

function restoreIdempotency(snapshot: MachineSnapshot, keysMax: number): Map<string, StoredIdempotency> {
  const idempotency = new Map<string, StoredIdempotency>();
  let previousIndex = 0;
  for (const record of snapshot.idempotency) {
    const problem = record.key === '' ? 'is empty' : idempotencyKeyProblem(record.key);
    if (problem !== null) throw new SnapshotDecodeError(`idempotency key ${JSON.stringify(record.key)} ${problem}`);
    if (idempotency.has(record.key)) throw new SnapshotDecodeError(`idempotency key ${JSON.stringify(record.key)} appears twice`);
    // Non-decreasing, not increasing: the writes of one put batch share its entry's index.
    if (record.index < Math.max(1, previousIndex) || record.index > snapshot.appliedIndex) {
      throw new SnapshotDecodeError(`idempotency records must be oldest first with indexes in 1..${snapshot.appliedIndex}; got ${record.index} after ${previousIndex}`);
    }
    previousIndex = record.index;
    idempotency.set(record.key, { index: record.index, existed: record.existed, kind: record.kind });
  }
  // Keep the newest, as eviction in log order would have.
  for (const key of idempotency.keys()) {
    if (idempotency.size <= keysMax) break;
    idempotency.delete(key);
  }
  return idempotency;
}

function lowerBound(keys: readonly string[], target: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareKeys(keys[middle] as string, target) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

function upperBound(keys: readonly string[], target: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareKeys(keys[middle] as string, target) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}
