import { randomBytes } from 'node:crypto';
import { TestudoClient } from '../client/index.js';
import { tracer } from '../common/trace.js';

/** A write (or read) load against a running cluster, driven through the public client. */
export interface LoadOptions {
  readonly endpoints: readonly string[];
  /** Concurrent callers sharing one client (as many application threads would). */
  readonly clients: number;
  /** Writes to time; ignored when `durationMs` is set. */
  readonly ops: number;
  /** Run for this long instead of a fixed number of writes. */
  readonly durationMs?: number;
  readonly valueBytes: number;
  /** Untimed writes first, to warm connections and the JIT. */
  readonly warmupOps: number;
  /** Distinct keys written (round robin). */
  readonly keySpace: number;
  /**
   * 'put' (default): timed writes. 'get': the warm-up writes keys `k<i>`,
   * then timed linearizable gets read them round robin (`warmupOps` must be
   * positive).
   */
  readonly op?: LoadOp;
  /**
   * The client's write batching (TestudoClientOptions.batchWrites): true
   * (default) sends the callers' concurrent puts together as Kv.PutMany
   * calls; false sends each put in a call of its own.
   */
  readonly batchWrites?: boolean;
}

export type LoadOp = 'put' | 'get';

export interface LoadResult {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  clients: number;
  ops: number;
  valueBytes: number;
  errors: number;
  elapsedMs: number;
  /** CPU (user + system) this client process used during the timed writes. */
  cpuSeconds: number;
  /**
   * Testudo's client only: the Kv.PutMany calls made over the whole load
   * (warm-up included) and the writes they carried; writes sent alone (a
   * Kv.Put each) are not counted. Absent for etcd's client.
   */
  writeBatches?: { calls: number; writes: number };
}

/** The line `bench load` prints on stdout as its timed writes begin (before its result line), so a parent can align its own measurements. */
export const timedPhaseLine = '{"phase":"timed"}';

/** Failed writes (after the client's own retries) that abort the run: a benchmark of a broken cluster means nothing. */
export const errorsMax = 100;

/** Upper bound on recorded latencies (a duration run stops recording beyond it). */
export const latencySamplesMax = 5_000_000;

/** One write of the load, resolved once the cluster has committed it (and retried by the client as it sees fit). */
export type LoadPut = (key: string, value: Uint8Array) => Promise<unknown>;

/** Runs the warm-up writes, calls `onTimedStart`, then times the writes (or, op 'get', the reads). */
export async function runLoad(options: LoadOptions, onTimedStart: () => void = () => undefined): Promise<LoadResult> {
  const client = new TestudoClient({ endpoints: [...options.endpoints], callTimeoutMs: 5000, totalTimeoutMs: 30_000, batchWrites: options.batchWrites ?? true });
  try {
    const put: LoadPut = (key, value) => client.put(key, value);
    if (options.op !== 'get') return { ...(await runLoadWith(put, options, onTimedStart)), writeBatches: client.writeBatches };
    if (options.warmupOps === 0) throw new RangeError('a read load needs warm-up writes (warmupOps > 0): they write the keys it reads');
    const value = randomBytes(options.valueBytes);
    await drive((key) => put(key, value), { ...options, ops: options.warmupOps, durationMs: undefined }, 'k');
    tracer?.event('client.timed', '');
    onTimedStart();
    // Every timed read hits a key the warm-up wrote.
    const keySpace = Math.min(options.keySpace, options.warmupOps);
    return await drive((key) => client.get(key), { ...options, keySpace }, 'k');
  } finally {
    client.close();
  }
}

/**
 * The same load through any client's put (src/bench/etcd-bench.ts drives
 * etcd with it): warm-up keys `warm<i>`, timed keys `k<i>`, i modulo the
 * key space, every write the same random value.
 */
export async function runLoadWith(put: LoadPut, options: Omit<LoadOptions, 'endpoints'>, onTimedStart: () => void = () => undefined): Promise<LoadResult> {
  const value = randomBytes(options.valueBytes);
  const call = (key: string): Promise<unknown> => put(key, value);
  await drive(call, { ...options, ops: options.warmupOps, durationMs: undefined }, 'warm');
  tracer?.event('client.timed', '');
  onTimedStart();
  return await drive(call, options, 'k');
}

/** `options.clients` callers each run `call` on keys `<prefix><i mod keySpace>` until the ops or the time run out. */
async function drive(call: (key: string) => Promise<unknown>, options: Omit<LoadOptions, 'endpoints'>, prefix: string): Promise<LoadResult> {
  const samples: number[] = [];
  let issued = 0;
  let errors = 0;
  const cpuStart = process.cpuUsage();
  const startNs = process.hrtime.bigint();
  const endNs = options.durationMs === undefined ? null : startNs + BigInt(options.durationMs) * 1_000_000n;
  const more = (): boolean => (endNs === null ? issued < options.ops : process.hrtime.bigint() < endNs);
  const caller = async (): Promise<void> => {
    while (more()) {
      const i = issued++;
      const t0 = process.hrtime.bigint();
      const key = `${prefix}${i % options.keySpace}`;
      try {
        tracer?.event('client.call', `key=${key}`);
        await call(key);
        tracer?.event('client.done', `key=${key}`);
        if (samples.length < latencySamplesMax) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      } catch (error) {
        errors++;
        if (errors > errorsMax) throw new Error(`more than ${errorsMax} operations failed; last: ${(error as Error).message}`, { cause: error });
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, caller));
  const elapsedMs = Number(process.hrtime.bigint() - startNs) / 1e6;
  const cpu = process.cpuUsage(cpuStart);
  samples.sort((a, b) => a - b);
  return {
    opsPerSec: round(samples.length / (elapsedMs / 1000)),
    p50Ms: round(quantile(samples, 0.5)),
    p99Ms: round(quantile(samples, 0.99)),
    maxMs: round(samples[samples.length - 1] ?? 0),
    clients: options.clients,
    ops: samples.length,
    valueBytes: options.valueBytes,
    errors,
    elapsedMs: round(elapsedMs),
    cpuSeconds: round((cpu.user + cpu.system) / 1e6),
  };
}

/** The q-quantile of sorted samples (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

export function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
