import protobuf from 'protobufjs';

import { testudoProtoRoot } from '../common/testudo-proto.js';
import { assert } from '../common/assert.js';
import {
  commandBytesMax,
  idempotencyKeyProblem,
  InvalidArgumentError,
  keyProblem,
  memberAddressProblem,
  orchPayloadBytesMax,
  valueProblem,
} from './limits.js';
import { encodeMachineSnapshotWire } from './snapshot-wire.js';

// The server validates and encodes in one step; let it import both from here.
export {
  InvalidArgumentError,
  validateIdempotencyKey,
  validateKey,
  validateKeyBound,
  validateMemberAddress,
  validateValue,
} from './limits.js';

/**
 * Codecs for the records the coordinators keep in their log and snapshots
 * (testudo.proto, "replicated records"), as plain typed values.
 *
 * Encoding is canonical: fields at their proto3 default are left out and
 * repeated fields keep the order given, so equal values give equal bytes.
 * uint64 fields become JavaScript numbers; a value above 2^53 - 1 is refused
 * rather than rounded.
 */

// ------------------------------------------------------------------- types

export type CommandOp =
  | { readonly type: 'put'; readonly key: string; readonly value: Uint8Array }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'noop' }
  /** An orchestrator command: JSON, raw-deflated when `deflated` (see Orchestration in testudo.proto). */
  | { readonly type: 'orch'; readonly payload: Uint8Array; readonly deflated: boolean }
  /** The writes of one PutMany call, applied in order in one entry; the command's own idempotency key is empty. */
  | { readonly type: 'put-batch'; readonly puts: readonly BatchedPut[] };

export type CommandKind = CommandOp['type'];

/** What an idempotency key can be first used for: a batched write is remembered as a `put`. */
export type IdempotencyKind = Exclude<CommandKind, 'put-batch'>;

/** One write of a `put-batch` command. */
export interface BatchedPut {
  readonly key: string;
  readonly value: Uint8Array;
  /** Required: each write of a batch is deduplicated on its own. */
  readonly idempotencyKey: string;
}

/** The payload of a normal log entry. */
export interface Command {
  /** Empty: no deduplication. */
  readonly idempotencyKey: string;
  /** The leader's clock when it proposed; apply never reads a clock. */
  readonly proposedAtMs: number;
  readonly op: CommandOp;
}

/** The context of a membership change entry. */
export interface MemberContext {
  readonly address: string;
}

export type MemberKind = 'voter' | 'learner';

export interface Member {
  readonly id: string;
  readonly address: string;
  readonly kind: MemberKind;
}

export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  /** Log index of the write that set this value. */
  readonly modIndex: number;
}

export interface IdempotencyRecord {
  readonly key: string;
  /** Log index of the command that first used the key. */
  readonly index: number;
  /** Delete only: whether the key existed when it was deleted. */
  readonly existed: boolean;
  readonly kind: IdempotencyKind;
}

export interface MachineSnapshot {
  readonly formatVersion: number;
  readonly appliedIndex: number;
  readonly items: readonly KeyValue[];
  readonly members: readonly Member[];
  /** Oldest first. */
  readonly idempotency: readonly IdempotencyRecord[];
  /** The orchestrator's state; empty when it has none. */
  readonly orchestrator: Uint8Array;
}

/** The MachineSnapshot format this build writes and reads. */
export const machineSnapshotFormatVersion = 1;

// ------------------------------------------------------------------ errors

/** Bytes could not be decoded into one of the records above. */
export class RecordDecodeError extends Error {
  override readonly name: string = 'RecordDecodeError';
  readonly retryable = false;
  /** The proto message that failed ("Command", "MachineSnapshot", …). */
  readonly record: string;

  constructor(record: string, message: string, options?: { cause?: unknown }) {
    super(`malformed ${record}: ${message}`, options);
    this.record = record;
  }
}

/** A log entry's data is not a valid Command. */
export class CommandDecodeError extends RecordDecodeError {
  override readonly name = 'CommandDecodeError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('Command', message, options);
  }
}

/** A membership change's context is not a valid MemberContext. */
export class MemberContextDecodeError extends RecordDecodeError {
  override readonly name = 'MemberContextDecodeError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('MemberContext', message, options);
  }
}

/** Snapshot data is malformed, inconsistent or of another format version. */
export class SnapshotDecodeError extends RecordDecodeError {
  override readonly name = 'SnapshotDecodeError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('MachineSnapshot', message, options);
  }
}

// ------------------------------------------------------------- proto types

// Looked up once, at import: the file ships with the package, so failing here
// is a broken install and should stop the process.
const root = testudoProtoRoot();
const CommandType = root.lookupType('testudo.v1.Command');
const MemberContextType = root.lookupType('testudo.v1.MemberContext');
const MachineSnapshotType = root.lookupType('testudo.v1.MachineSnapshot');

/** protobufjs gives uint64 as a number or, with `long` installed, a Long. */
interface LongLike {
  readonly low: number;
  readonly high: number;
}

type ErrorFactory = (message: string, options?: { cause?: unknown }) => Error;

const twoPow32 = 2 ** 32;
/** The high word of 2^53: any uint64 with a larger high word is unsafe. */
const safeHighWordLimit = 2 ** 21;

function uint64ToNumber(value: unknown, field: string, fail: ErrorFactory): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw fail(`${field} ${value} is not a safe non-negative integer`);
    return value;
  }
  if (typeof value === 'object' && value !== null && 'low' in value && 'high' in value) {
    const { low, high } = value as LongLike;
    const highWord = high >>> 0;
    if (highWord >= safeHighWordLimit) throw fail(`${field} exceeds 2^53 - 1`);
    return highWord * twoPow32 + (low >>> 0);
  }
  if (value === undefined || value === null) return 0;
  throw fail(`${field} is not an integer`);
}

/** A copy in a plain Uint8Array: decoded bytes are views into the input. */
function copyBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return Uint8Array.from(value as number[]);
  return new Uint8Array(0);
}

function stringField(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function decodeMessage(type: protobuf.Type, data: Uint8Array, fail: ErrorFactory): Record<string, unknown> {
  try {
    return type.decode(data) as unknown as Record<string, unknown>;
  } catch (cause) {
    throw fail(`cannot decode ${data.byteLength} bytes: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

function isSet(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

// ----------------------------------------------------------------- command

function commandProblem(cmd: Command): [field: string, reason: string] | null {
  if (!Number.isSafeInteger(cmd.proposedAtMs) || cmd.proposedAtMs < 0) {
    return ['proposed_at_ms', `must be a non-negative safe integer, got ${cmd.proposedAtMs}`];
  }
  const idempotency = idempotencyKeyProblem(cmd.idempotencyKey);
  if (idempotency !== null) return ['idempotency_key', idempotency];
  if (cmd.op.type === 'noop') return null;
  if (cmd.op.type === 'put-batch') return putBatchProblem(cmd);
  if (cmd.op.type === 'orch') {
    if (cmd.op.payload.byteLength === 0) return ['orch.payload', 'is empty'];
    if (cmd.op.payload.byteLength > orchPayloadBytesMax) return ['orch.payload', `is ${cmd.op.payload.byteLength} bytes, limit ${orchPayloadBytesMax}`];
    return null;
  }
  const key = keyProblem(cmd.op.key);
  if (key !== null) return ['key', key];
  if (cmd.op.type === 'put') {
    const value = valueProblem(cmd.op.value);
    if (value !== null) return ['value', value];
  }
  return null;
}

/** Most writes in one `put-batch` command (and one PutMany call). */
export const putBatchWritesMax = 1000;

function putBatchProblem(cmd: Command): [field: string, reason: string] | null {
  assert(cmd.op.type === 'put-batch', 'not a put batch');
  if (cmd.idempotencyKey !== '') return ['idempotency_key', 'must be empty on a put batch (each write has its own)'];
  return batchedPutsProblem(cmd.op.puts, 'put_batch.puts');
}

/**
 * Why the writes of a batch are refused, or null: the rules of a `put-batch`
 * command, for the command (`listField` 'put_batch.puts') and for the
 * PutMany call that carries them ('puts'). Each write is named by its
 * position: `puts[3].key`.
 */
export function batchedPutsProblem(puts: readonly BatchedPut[], listField: string): [field: string, reason: string] | null {
  if (puts.length === 0) return [listField, 'is empty'];
  if (puts.length > putBatchWritesMax) return [listField, `holds ${puts.length} writes, limit ${putBatchWritesMax}`];
  for (let i = 0; i < puts.length; i++) {
    const put = puts[i]!;
    const key = keyProblem(put.key);
    if (key !== null) return [`puts[${i}].key`, key];
    const value = valueProblem(put.value);
    if (value !== null) return [`puts[${i}].value`, value];
    if (put.idempotencyKey === '') return [`puts[${i}].idempotency_key`, 'is required in a batch'];
    const idempotency = idempotencyKeyProblem(put.idempotencyKey);
    if (idempotency !== null) return [`puts[${i}].idempotency_key`, idempotency];
  }
  return null;
}

/**
 * Why a decoded command must not be applied, or null. The state machine
 * calls this at apply time: a command may come from an older or buggy leader.
 */
export function validateCommand(cmd: Command): string | null {
  const problem = commandProblem(cmd);
  return problem === null ? null : `invalid ${problem[0]}: ${problem[1]}`;
}

function commandMessage(cmd: Command): Record<string, unknown> {
  const message: Record<string, unknown> = {};
  if (cmd.idempotencyKey !== '') message['idempotencyKey'] = cmd.idempotencyKey;
  if (cmd.proposedAtMs !== 0) message['proposedAtMs'] = cmd.proposedAtMs;
  const op = cmd.op;
  if (op.type === 'put') {
    const put: Record<string, unknown> = { key: op.key };
    if (op.value.byteLength > 0) put['value'] = op.value;
    message['put'] = put;
  } else if (op.type === 'delete') {
    message['delete'] = { key: op.key };
  } else if (op.type === 'put-batch') {
    message['putBatch'] = {
      puts: op.puts.map((put) => {
        const item: Record<string, unknown> = { key: put.key, idempotencyKey: put.idempotencyKey };
        if (put.value.byteLength > 0) item['value'] = put.value;
        return item;
      }),
    };
  } else if (op.type === 'orch') {
    const orch: Record<string, unknown> = { payload: op.payload };
    if (op.deflated) orch['deflated'] = true;
    message['orch'] = orch;
  } else {
    message['noop'] = {};
  }
  return message;
}

/**
 * Encodes a command for proposal. Refuses (InvalidArgumentError) a command
 * that breaks a limit, so nothing invalid reaches the log, and checks the
 * bytes decode back to the same command.
 */
export function encodeCommand(cmd: Command): Uint8Array {
  const problem = commandProblem(cmd);
  if (problem !== null) throw new InvalidArgumentError(problem[0], problem[1]);
  const data = CommandType.encode(commandMessage(cmd)).finish();
  // A batch's size is the caller's choice, so its excess is the caller's error; a single write's limits keep it far below.
  if (cmd.op.type === 'put-batch' && data.byteLength > commandBytesMax) {
    throw new InvalidArgumentError('puts', `the batch encodes to ${data.byteLength} bytes, more than one log entry holds (${commandBytesMax}); send fewer writes per call`);
  }
  assert(data.byteLength <= commandBytesMax, `encoded command is ${data.byteLength} bytes, limit ${commandBytesMax}`);
  const back = decodeCommand(data);
  assert(
    back.idempotencyKey === cmd.idempotencyKey && back.proposedAtMs === cmd.proposedAtMs && back.op.type === cmd.op.type,
    'command does not survive its encoding',
  );
  if ((back.op.type === 'put' || back.op.type === 'delete') && (cmd.op.type === 'put' || cmd.op.type === 'delete')) assert(back.op.key === cmd.op.key, 'command key does not survive its encoding');
  if (back.op.type === 'put' && cmd.op.type === 'put') {
    assert(back.op.value.byteLength === cmd.op.value.byteLength, 'command value does not survive its encoding');
  }
  if (back.op.type === 'put-batch' && cmd.op.type === 'put-batch') assert(back.op.puts.length === cmd.op.puts.length, 'command batch does not survive its encoding');
  return data;
}

const commandError: ErrorFactory = (message, options) => new CommandDecodeError(message, options);

/**
 * Decodes a log entry's data. Throws CommandDecodeError on bytes that are not
 * a Command, on a command with no op or more than one, or on an oversized one.
 * Limits on keys and values are not checked here (see validateCommand).
 * The value is a copy: it does not share memory with `data`.
 */
export function decodeCommand(data: Uint8Array): Command {
  if (data.byteLength > commandBytesMax) throw commandError(`${data.byteLength} bytes, limit ${commandBytesMax}`);
  const message = decodeMessage(CommandType, data, commandError);
  const idempotencyKey = stringField(message['idempotencyKey']);
  const proposedAtMs = uint64ToNumber(message['proposedAtMs'], 'proposed_at_ms', commandError);
  const put = message['put'];
  const del = message['delete'];
  const noop = message['noop'];
  const orch = message['orch'];
  const batch = message['putBatch'];
  const opCount = Number(isSet(put)) + Number(isSet(del)) + Number(isSet(noop)) + Number(isSet(orch)) + Number(isSet(batch));
  if (opCount === 0) throw commandError('the command has no op');
  if (opCount > 1) throw commandError('the command has more than one op');
  let op: CommandOp;
  if (isSet(put)) op = { type: 'put', key: stringField(put['key']), value: copyBytes(put['value']) };
  else if (isSet(del)) op = { type: 'delete', key: stringField(del['key']) };
  else if (isSet(orch)) op = { type: 'orch', payload: copyBytes(orch['payload']), deflated: orch['deflated'] === true };
  else if (isSet(batch)) op = { type: 'put-batch', puts: decodeBatchedPuts(batch['puts']) };
  else op = { type: 'noop' };
  return { idempotencyKey, proposedAtMs, op };
}

function decodeBatchedPuts(value: unknown): BatchedPut[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw commandError('put_batch.puts is not a list');
  return value.map((item: unknown, i) => {
    if (!isSet(item)) throw commandError(`put_batch.puts[${i}] is not a message`);
    return { key: stringField(item['key']), value: copyBytes(item['value']), idempotencyKey: stringField(item['idempotencyKey']) };
  });
}

// ---------------------------------------------------------- member context

const memberContextError: ErrorFactory = (message, options) => new MemberContextDecodeError(message, options);

/** Encodes a membership change's context; an empty address gives no bytes. */
export function encodeMemberContext(context: MemberContext): Uint8Array {
  const problem = memberAddressProblem(context.address);
  if (problem !== null) throw new InvalidArgumentError('address', problem);
  const data = MemberContextType.encode(context.address === '' ? {} : { address: context.address }).finish();
  assert(decodeMemberContext(data).address === context.address, 'member context does not survive its encoding');
  return data;
}

/** Decodes a membership change's context; no bytes give an empty address. */
export function decodeMemberContext(data: Uint8Array): MemberContext {
  const message = decodeMessage(MemberContextType, data, memberContextError);
  return { address: stringField(message['address']) };
}

// ---------------------------------------------------------------- snapshot

const snapshotError: ErrorFactory = (message, options) => new SnapshotDecodeError(message, options);

/**
 * Encodes a snapshot in the order given (the caller sorts, for canonical
 * bytes). Integers are asserted safe: the state machine built them. The
 * bytes are protobufjs's; the encoder is hand-written for speed (see
 * snapshot-wire.ts).
 */
export function encodeMachineSnapshot(snapshot: MachineSnapshot): Uint8Array {
  return encodeMachineSnapshotWire(snapshot);
}

function decodeMember(raw: unknown, position: number): Member {
  const message = isSet(raw) ? raw : {};
  const kind = message['kind'];
  if (kind !== 'voter' && kind !== 'learner') throw snapshotError(`member ${position} has kind ${JSON.stringify(kind)}; want "voter" or "learner"`);
  return { id: stringField(message['id']), address: stringField(message['address']), kind };
}

function decodeIdempotencyRecord(raw: unknown, position: number): IdempotencyRecord {
  const message = isSet(raw) ? raw : {};
  const kind = message['kind'];
  if (kind !== 'put' && kind !== 'delete' && kind !== 'noop' && kind !== 'orch') {
    throw snapshotError(`idempotency record ${position} has kind ${JSON.stringify(kind)}; want "put", "delete", "noop" or "orch"`);
  }
  return {
    key: stringField(message['key']),
    index: uint64ToNumber(message['index'], `idempotency record ${position} index`, snapshotError),
    existed: message['existed'] === true,
    kind,
  };
}

function repeated(message: Record<string, unknown>, field: string): readonly unknown[] {
  const value = message[field];
  return Array.isArray(value) ? value : [];
}

/**
 * Decodes snapshot data. Throws SnapshotDecodeError on malformed bytes, on a
 * format version this build does not read, and on fields out of range.
 * Consistency between records (order, duplicates) is the state machine's to
 * check. Values are copies.
 */
export function decodeMachineSnapshot(data: Uint8Array): MachineSnapshot {
  const message = decodeMessage(MachineSnapshotType, data, snapshotError);
  const formatVersion = typeof message['formatVersion'] === 'number' ? message['formatVersion'] : 0;
  if (formatVersion !== machineSnapshotFormatVersion) {
    throw snapshotError(`format version ${formatVersion}; this build reads version ${machineSnapshotFormatVersion} only`);
  }
  const items = repeated(message, 'items').map((raw, position): KeyValue => {
    const item = isSet(raw) ? raw : {};
    return {
      key: stringField(item['key']),
      value: copyBytes(item['value']),
      modIndex: uint64ToNumber(item['modIndex'], `item ${position} mod_index`, snapshotError),
    };
  });
  return {
    formatVersion,
    appliedIndex: uint64ToNumber(message['appliedIndex'], 'applied_index', snapshotError),
    items,
    members: repeated(message, 'members').map(decodeMember),
    idempotency: repeated(message, 'idempotency').map(decodeIdempotencyRecord),
    orchestrator: copyBytes(message['orchestrator']),
  };
}
