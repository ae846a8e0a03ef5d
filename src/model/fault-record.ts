/**
 * The record of one injected fault, as the chaos module writes it into the
 * replicated key-value namespace and the dashboard reads it back
 * (docs/chaos.md, "Faults in the replicated state"). Faults are injected from
 * outside the coordinators (proxies, signals, chaos hooks), so the cluster
 * learns of them only through these records: one key per fault under
 * `faultRecordPrefix`, written when the fault starts and again when it heals.
 * The values are plain KV values; every time in them is the injector's clock,
 * chosen before the write, so the state machine stays deterministic.
 */

/** The reserved key prefix: one key per fault. */
export const faultRecordPrefix = 'chaos/faults/';
/** Records kept: before recording a new fault the injector deletes the oldest healed ones beyond this. */
export const faultRecordsKeptMax = 200;
/** Largest record value accepted (targets are ids, params a handful of numbers). */
export const faultRecordBytesMax = 4096;
/** Targets kept in one record; a fault on more is cut (and says so in `targetsOmitted`). */
export const faultRecordTargetsMax = 32;

export interface FaultRecord {
  /** Unique per fault: the key's suffix after the start time. */
  readonly id: string;
  /** The catalog's fault type (kill, latency, worker-crash, …). */
  readonly type: string;
  /** The intensity applied (mild, moderate, severe). */
  readonly intensity: string;
  /** The intensity asked for when adaptive intensity lowered it, else ''. */
  readonly wanted: string;
  /** Why it was lowered, else ''. */
  readonly adaptedReason: string;
  readonly scope: string;
  /** Coordinator or worker ids hit. */
  readonly targets: readonly string[];
  readonly targetsOmitted: number;
  /** The fault's parameters (durationMs, latencyMs, …). */
  readonly params: Readonly<Record<string, number>>;
  /** Who injected it, e.g. `testudo chaos (pid 4242)`. */
  readonly source: string;
  /** Injector's clock, ms since the epoch. */
  readonly startedAtMs: number;
  /** When it was healed (injector's clock); 0 while it is active. */
  readonly healedAtMs: number;
}

/** A key under faultRecordPrefix did not hold a fault record. */
export class FaultRecordDecodeError extends Error {
  override readonly name = 'FaultRecordDecodeError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${key} is not a fault record: ${reason}`);
  }
}

/** The key of a record: start time first (zero-padded), so that keys list oldest first. */
export function faultRecordKey(record: Pick<FaultRecord, 'startedAtMs' | 'id'>): string {
  if (!Number.isSafeInteger(record.startedAtMs) || record.startedAtMs < 0) throw new RangeError(`startedAtMs must be a non-negative integer, got ${record.startedAtMs}`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(record.id)) throw new RangeError(`a fault record id must be 1-64 letters, digits, '-' or '_', got ${JSON.stringify(record.id)}`);
  return `${faultRecordPrefix}${String(record.startedAtMs).padStart(15, '0')}-${record.id}`;
}

export function encodeFaultRecord(record: FaultRecord): string {
  const text = JSON.stringify({ v: 1, ...record });
  if (Buffer.byteLength(text) > faultRecordBytesMax) throw new RangeError(`a fault record is ${Buffer.byteLength(text)} bytes, limit ${faultRecordBytesMax}`);
  // Pair the write with its read: what is stored must decode to what was meant.
  decodeFaultRecord(faultRecordKey(record), text);
  return text;
}

/** Parses and checks a record; throws FaultRecordDecodeError on anything else. */
export function decodeFaultRecord(key: string, text: string): FaultRecord {
  if (Buffer.byteLength(text) > faultRecordBytesMax) throw new FaultRecordDecodeError(key, `larger than ${faultRecordBytesMax} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new FaultRecordDecodeError(key, 'not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FaultRecordDecodeError(key, 'not an object');
  const o = raw as Record<string, unknown>;
  if (o['v'] !== 1) throw new FaultRecordDecodeError(key, `unknown version ${JSON.stringify(o['v'])}`);
  const str = (field: string): string => {
    const value = o[field];
    if (typeof value !== 'string') throw new FaultRecordDecodeError(key, `${field} is not a string`);
    return value;
  };
  /** Times (ms since the epoch) and counts: non-negative integers. */
  const whole = (field: string): number => {
    const value = o[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new FaultRecordDecodeError(key, `${field} is not a non-negative integer`);
    return value;
  };
  const targets = o['targets'];
  if (!Array.isArray(targets) || targets.length > faultRecordTargetsMax || !targets.every((t) => typeof t === 'string')) throw new FaultRecordDecodeError(key, 'targets is not a list of ids');
  const params = o['params'];
  if (typeof params !== 'object' || params === null || Array.isArray(params) || !Object.values(params).every((p) => typeof p === 'number' && Number.isFinite(p))) {
    throw new FaultRecordDecodeError(key, 'params is not a map of numbers');
  }
  const record: FaultRecord = {
    id: str('id'),
    type: str('type'),
    intensity: str('intensity'),
    wanted: str('wanted'),
    adaptedReason: str('adaptedReason'),
    scope: str('scope'),
    targets: targets as string[],
    targetsOmitted: whole('targetsOmitted'),
    params: params as Record<string, number>,
    source: str('source'),
    startedAtMs: whole('startedAtMs'),
    healedAtMs: whole('healedAtMs'),
  };
  if (record.healedAtMs !== 0 && record.healedAtMs < record.startedAtMs) throw new FaultRecordDecodeError(key, 'healed before it started');
  if (!key.endsWith(`-${record.id}`)) throw new FaultRecordDecodeError(key, `its id ${record.id} is not the key's`);
  return record;
}
