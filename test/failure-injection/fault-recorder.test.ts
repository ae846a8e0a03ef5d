import { describe, expect, it } from 'vitest';
import { encodeCommand, type CommandOp } from '../../src/coordinator/codec.js';
import { KvMachine } from '../../src/coordinator/kv-machine.js';
import { FaultRecorder, type FaultRecordStore, type FaultStart } from '../../src/failure-injection/fault-recorder.js';
import {
  decodeFaultRecord,
  encodeFaultRecord,
  faultRecordKey,
  faultRecordPrefix,
  faultRecordsKeptMax,
  FaultRecordDecodeError,
  type FaultRecord,
} from '../../src/model/index.js';

/**
 * The fault recorder against the real key-value state machine (each write
 * applied as a committed entry); the browser test records through a real
 * cluster (test/dashboard/browser.test.ts).
 */

function machineStore(machine: KvMachine): FaultRecordStore {
  const apply = (op: CommandOp): void => {
    const result = machine.applyCommand(machine.appliedIndex + 1, encodeCommand({ idempotencyKey: '', proposedAtMs: 0, op }));
    if (!result.ok) throw new Error(result.message);
  };
  return {
    put: async (key, value) => apply({ type: 'put', key, value: Buffer.from(value) }),
    delete: async (key) => apply({ type: 'delete', key }),
    list: async (options) => machine.list(options),
  };
}

function records(machine: KvMachine): FaultRecord[] {
  return machine.list({ prefix: faultRecordPrefix, limit: 10_000 }).items.map((i) => decodeFaultRecord(i.key, Buffer.from(i.value).toString('utf8')));
}

const latency: FaultStart = { event: { type: 'latency', scope: 'leader' }, intensity: 'mild', params: { durationMs: 3000, latencyMs: 50 }, targets: ['n2'] };

describe('FaultRecorder', () => {
  it('records a start, then its heal, never the other way round even when the start write is slow', async () => {
    const machine = new KvMachine();
    const store = machineStore(machine);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let puts = 0;
    const slowFirst: FaultRecordStore = { ...store, put: async (key, value) => (++puts === 1 ? gate.then(() => store.put(key, value)) : store.put(key, value)) };
    let now = 1_700_000_000_000;
    const recorder = new FaultRecorder(() => ({ store: slowFirst, close: () => undefined }), 'test', () => undefined, () => now);
    const record = recorder.started({ ...latency, wanted: 'severe', adaptedReason: 'w1: breaker open' });
    now += 3000;
    recorder.healed(record);
    release();
    await recorder.written();
    expect(records(machine)).toEqual([{ ...record, healedAtMs: record.startedAtMs + 3000 }]);
    expect(record).toMatchObject({ type: 'latency', intensity: 'mild', wanted: 'severe', scope: 'leader', targets: ['n2'], params: { durationMs: 3000, latencyMs: 50 }, source: 'test', healedAtMs: 0 });
  });

  it('keeps at most faultRecordsKeptMax records, deleting the oldest healed ones and never an active one', async () => {
    const machine = new KvMachine();
    const store = machineStore(machine);
    const old = (i: number, healed: boolean): FaultRecord => ({
      id: `old${i}`, type: 'kill', intensity: 'mild', wanted: '', adaptedReason: '', scope: 'leader', targets: ['n1'], targetsOmitted: 0,
      params: { durationMs: 1000 }, source: 'test', startedAtMs: 1_000 + i, healedAtMs: healed ? 2_000 + i : 0,
    });
    // The oldest is still active; the rest healed.
    for (let i = 0; i < faultRecordsKeptMax; i++) await store.put(faultRecordKey(old(i, i !== 0)), encodeFaultRecord(old(i, i !== 0)));
    const recorder = new FaultRecorder(() => ({ store, close: () => undefined }), 'test', () => undefined, () => 5_000);
    const fresh = recorder.started(latency);
    await recorder.written();
    const kept = records(machine);
    expect(kept).toHaveLength(faultRecordsKeptMax);
    expect(kept.map((r) => r.id)).toContain('old0');
    expect(kept.map((r) => r.id)).not.toContain('old1');
    expect(kept.at(-1)!.id).toBe(fresh.id);
  });

  it('logs a write that fails and goes on with the next', async () => {
    const machine = new KvMachine();
    const store = machineStore(machine);
    let failNext = true;
    const flaky: FaultRecordStore = {
      ...store,
      put: async (key, value) => {
        if (failNext) {
          failNext = false;
          throw new Error('no leader');
        }
        return store.put(key, value);
      },
    };
    const lines: string[] = [];
    let closed = 0;
    const recorder = new FaultRecorder(() => ({ store: flaky, close: () => void closed++ }), 'test', (line) => lines.push(line), () => 10_000);
    const record = recorder.started(latency);
    recorder.healed(record);
    await recorder.written();
    expect(lines).toEqual(['fault record: start of latency not recorded: no leader']);
    // The heal rewrites the whole record, so the fault is known even though its start was lost.
    expect(records(machine)).toEqual([{ ...record, healedAtMs: 10_000 }]);
    expect(closed).toBe(2);
  });

  it('refuses values that are not a record', () => {
    const good: FaultRecord = { id: 'f1', type: 'kill', intensity: 'mild', wanted: '', adaptedReason: '', scope: 'leader', targets: ['n1'], targetsOmitted: 0, params: { durationMs: 1 }, source: 't', startedAtMs: 5, healedAtMs: 0 };
    const key = faultRecordKey(good);
    expect(decodeFaultRecord(key, encodeFaultRecord(good))).toEqual(good);
    for (const [text, reason] of [
      ['nope', /not JSON/],
      ['[]', /not an object/],
      [JSON.stringify({ ...good, v: 2 }), /unknown version/],
      [JSON.stringify({ ...good, v: 1, targets: 'n1' }), /targets/],
      [JSON.stringify({ ...good, v: 1, params: { durationMs: 'long' } }), /params/],
      [JSON.stringify({ ...good, v: 1, healedAtMs: 4 }), /healed before it started/],
      [JSON.stringify({ ...good, v: 1, id: 'f2' }), /not the key's/],
    ] as const) {
      expect(() => decodeFaultRecord(key, text), text).toThrow(FaultRecordDecodeError);
      expect(() => decodeFaultRecord(key, text), text).toThrow(reason);
    }
    expect(() => faultRecordKey({ ...good, id: '../x' })).toThrow(RangeError);
  });
});
