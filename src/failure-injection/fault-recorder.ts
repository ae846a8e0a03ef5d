/**
 * Records each injected fault in the cluster's replicated state, so that
 * every coordinator (and its dashboard) knows which faults are active and
 * when they came and went (docs/chaos.md, "Faults in the replicated state").
 * A record is a key under `faultRecordPrefix`, written when the fault starts
 * and rewritten when it heals.
 *
 * Writes go one after another (a heal never overtakes its start) and off the
 * injector's path: during a fault the cluster may have no leader for a
 * while, and the schedule must not wait for it. A write that does not commit
 * within `faultRecordWriteTimeoutMs` is given up and logged.
 */
import { randomBytes } from 'node:crypto';
import {
  encodeFaultRecord,
  faultRecordKey,
  faultRecordPrefix,
  faultRecordsKeptMax,
  faultRecordTargetsMax,
  type FaultRecord,
} from '../model/index.js';
import type { FaultEvent, FaultParams, Intensity } from './catalog.js';

/** What the recorder needs of a client (TestudoClient has it). */
export interface FaultRecordStore {
  put(key: string, value: string): Promise<unknown>;
  delete(key: string): Promise<unknown>;
  list(options: { prefix: string; limit: number }): Promise<{ readonly items: readonly { readonly key: string; readonly value: Uint8Array }[] }>;
}

/** Longest one record write may take (it waits for a leader) before it is given up. */
export const faultRecordWriteTimeoutMs = 15_000;
/** Record writes waiting their turn; beyond it a write is dropped (and logged). */
export const faultRecordWritesPendingMax = 64;

/** What the injector knows of a fault when it starts. */
export interface FaultStart {
  readonly event: Pick<FaultEvent, 'type' | 'scope'>;
  readonly intensity: Intensity;
  readonly wanted?: Intensity;
  readonly adaptedReason?: string;
  readonly params: FaultParams;
  readonly targets: readonly string[];
}

export class FaultRecorder {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;

  /**
   * @param openStore gives a store for one write and a function that releases it
   *   (a fresh client per write: the recorder holds nothing between faults).
   */
  constructor(
    private readonly openStore: () => { store: FaultRecordStore; close(): void },
    private readonly source: string,
    private readonly log: (line: string) => void,
    private readonly nowMs: () => number = Date.now,
  ) {}

  /** Records a fault as active from now; returns its record, to pass to `healed`. */
  started(fault: FaultStart): FaultRecord {
    const targets = fault.targets.slice(0, faultRecordTargetsMax);
    const record: FaultRecord = {
      id: randomBytes(4).toString('hex'),
      type: fault.event.type,
      intensity: fault.intensity,
      wanted: fault.wanted !== undefined && fault.wanted !== fault.intensity ? fault.wanted : '',
      adaptedReason: fault.adaptedReason?.slice(0, 500) ?? '',
      scope: fault.event.scope,
      targets,
      targetsOmitted: fault.targets.length - targets.length,
      params: numericParams(fault.params),
      source: this.source,
      startedAtMs: this.nowMs(),
      healedAtMs: 0,
    };
    this.enqueue(`start of ${record.type}`, async (store) => {
      await prune(store);
      await store.put(faultRecordKey(record), encodeFaultRecord(record));
    });
    return record;
  }

  /** Records the fault as healed now. */
  healed(record: FaultRecord): void {
    const done: FaultRecord = { ...record, healedAtMs: Math.max(record.startedAtMs, this.nowMs()) };
    this.enqueue(`heal of ${record.type}`, (store) => store.put(faultRecordKey(done), encodeFaultRecord(done)).then(() => undefined));
  }

  /** Resolves once every record asked for so far was written or given up. */
  written(): Promise<void> {
    return this.chain;
  }

  private enqueue(what: string, write: (store: FaultRecordStore) => Promise<void>): void {
    if (this.pending >= faultRecordWritesPendingMax) {
      this.log(`fault record: ${what} not recorded (${this.pending} record writes already waiting)`);
      return;
    }
    this.pending++;
    this.chain = this.chain.then(async () => {
      const { store, close } = this.openStore();
      try {
        await write(store);
      } catch (error) {
        this.log(`fault record: ${what} not recorded: ${(error as Error).message}`);
      } finally {
        close();
        this.pending--;
      }
    });
  }
}

/** Deletes the oldest healed records so that, with the one about to be written, at most faultRecordsKeptMax remain. */
async function prune(store: FaultRecordStore): Promise<void> {
  // Keys list oldest first (the start time leads the key).
  const { items } = await store.list({ prefix: faultRecordPrefix, limit: faultRecordsKeptMax * 2 });
  let excess = items.length + 1 - faultRecordsKeptMax;
  for (const item of items) {
    if (excess <= 0) break;
    if (!isHealed(item.value)) continue;
    await store.delete(item.key);
    excess--;
  }
}

function isHealed(value: Uint8Array): boolean {
  try {
    const parsed = JSON.parse(Buffer.from(value).toString('utf8')) as { healedAtMs?: unknown };
    return typeof parsed.healedAtMs === 'number' && parsed.healedAtMs > 0;
  } catch {
    // Not a record: whatever it is, it may go.
    return true;
  }
}

function numericParams(params: FaultParams): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(params)) if (typeof value === 'number' && Number.isFinite(value)) out[name] = value;
  return out;
}
