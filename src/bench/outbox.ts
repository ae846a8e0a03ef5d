import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SeededRng } from '../common/rand.js';
import type { AttemptResult } from '../model/types.js';
import { Outbox } from '../worker/outbox.js';
import { LevelDbOutboxCandidate } from './outbox-leveldb.js';

/**
 * The worker outbox's real workload against its two possible storages: the
 * hand-written log (src/worker/outbox.ts) and LevelDB with synced batches
 * (outbox-leveldb.ts). `concurrency` attempts each finish a result of 1–4 KB
 * of JSON, put it and wait until it is durable, then finish the next; the
 * coordinator's confirmations come back in batches of `confirmBatch` ids
 * (one confirm in flight at a time, as the leader commits result batches).
 *
 * Runs alternate between the storages (A B, then B A, …) in this process, each
 * on a fresh directory under the OS temp dir, so drift of a shared machine
 * falls on both. Reported per storage and concurrency: puts/s, put latency
 * (until durable) p50/p99, and CPU time of the whole process per put (user +
 * system, LevelDB's threads included), each the median over the runs.
 */
export type OutboxStorage = 'log' | 'leveldb';
export const outboxStorages: readonly OutboxStorage[] = ['log', 'leveldb'];

export interface OutboxBenchOptions {
  /** Concurrent attempts, one case each. */
  readonly concurrency: readonly number[];
  /** Timed puts per run (after `warmupPuts` untimed ones). */
  readonly puts: number;
  readonly warmupPuts: number;
  /** Runs per storage and concurrency (alternating). */
  readonly pairs: number;
  readonly confirmBatch: number;
  readonly seed: number;
  /** Parent of the runs' directories (each run's is removed after it); default the OS temp dir. */
  readonly dir?: string;
}

export interface OutboxRunFigures {
  putsPerSec: number;
  putP50Ms: number;
  putP99Ms: number;
  cpuUsPerPut: number;
  /** Synced writes (group commits) per 100 puts. */
  syncsPer100Puts: number;
  /** Bytes the process had written to disk (/proc/self/io write_bytes, LevelDB's threads included) per put; -1 where unknown. */
  diskBytesPerPut: number;
}

export interface OutboxCaseResult {
  concurrency: number;
  /** Medians over the runs. */
  log: OutboxRunFigures;
  leveldb: OutboxRunFigures;
  /** leveldb ÷ log of the medians (above 1: LevelDB is higher). */
  ratio: OutboxRunFigures;
  /** Every run's figures, in the order they ran. */
  runs: { storage: OutboxStorage; figures: OutboxRunFigures }[];
}

export interface OutboxBenchResult {
  puts: number;
  pairs: number;
  confirmBatch: number;
  resultBytesMin: number;
  resultBytesMax: number;
  cases: OutboxCaseResult[];
}

/** Upper bound of `puts` per run: every latency sample is kept in memory. */
export const outboxBenchPutsMax = 1_000_000;
const resultBytesMin = 1024;
const resultBytesMax = 4096;
/** Distinct output tails the results are built from (built before timing). */
const tailVariants = 64;

interface Store {
  put(result: AttemptResult): Promise<void>;
  confirm(attemptIds: readonly string[]): Promise<void>;
  close(): Promise<void>;
  readonly syncs: () => number;
}

export async function runOutboxBench(options: OutboxBenchOptions, progress: (line: string) => void): Promise<OutboxBenchResult> {
  assert(options.puts >= 1 && options.puts <= outboxBenchPutsMax, `puts must be in [1, ${outboxBenchPutsMax}]`);
  assert(options.pairs >= 1 && options.confirmBatch >= 1, 'pairs and confirmBatch must be positive');
  const rng = new SeededRng(options.seed);
  const tails = Array.from({ length: tailVariants }, () => 'x'.repeat(resultBytesMin - 400 + rng.intBelow(resultBytesMax - resultBytesMin)));
  const cases: OutboxCaseResult[] = [];
  for (const concurrency of options.concurrency) {
    const runs: { storage: OutboxStorage; figures: OutboxRunFigures }[] = [];
    for (let pair = 0; pair < options.pairs; pair++) {
      const order: OutboxStorage[] = pair % 2 === 0 ? ['log', 'leveldb'] : ['leveldb', 'log'];
      for (const storage of order) {
        const figures = await runOnce(storage, concurrency, tails, options);
        progress(`concurrency ${concurrency}, run ${pair + 1}/${options.pairs}, ${storage}: ${JSON.stringify(figures)}`);
        runs.push({ storage, figures });
      }
    }
    const log = medians(runs.filter((r) => r.storage === 'log').map((r) => r.figures));
    const leveldb = medians(runs.filter((r) => r.storage === 'leveldb').map((r) => r.figures));
    cases.push({ concurrency, log, leveldb, ratio: ratios(leveldb, log), runs });
  }
  return { puts: options.puts, pairs: options.pairs, confirmBatch: options.confirmBatch, resultBytesMin, resultBytesMax, cases };
}

async function openStore(storage: OutboxStorage, dir: string): Promise<Store> {
  if (storage === 'log') {
    // Each put waits until it is durable, as the LevelDB candidate does (no deferred sync).
    const outbox = await Outbox.open(dir, { syncDelayMs: 0 });
    return { put: (r) => outbox.put(r), confirm: (ids) => outbox.confirm(ids), close: () => outbox.close(), syncs: () => outbox.stats().syncs };
  }
  const outbox = await LevelDbOutboxCandidate.open(dir);
  return { put: (r) => outbox.put(r), confirm: (ids) => outbox.confirm(ids), close: () => outbox.close(), syncs: () => outbox.syncedBatches };
}

async function runOnce(storage: OutboxStorage, concurrency: number, tails: readonly string[], options: OutboxBenchOptions): Promise<OutboxRunFigures> {
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), `testudo-bench-outbox-${storage}-`));
  try {
    const store = await openStore(storage, dir);
    try {
      await drive(store, concurrency, options.warmupPuts, 'w', tails, options.confirmBatch);
      const syncsBefore = store.syncs();
      const diskBefore = await diskWriteBytes();
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const latencies = await drive(store, concurrency, options.puts, 'm', tails, options.confirmBatch);
      const elapsedMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      const diskAfter = await diskWriteBytes();
      latencies.sort((a, b) => a - b);
      return {
        putsPerSec: Math.round((options.puts * 1000) / elapsedMs),
        putP50Ms: round(quantile(latencies, 0.5)),
        putP99Ms: round(quantile(latencies, 0.99)),
        cpuUsPerPut: Math.round((cpu.user + cpu.system) / options.puts),
        syncsPer100Puts: round(((store.syncs() - syncsBefore) * 100) / options.puts),
        diskBytesPerPut: diskBefore < 0 || diskAfter < 0 ? -1 : Math.round((diskAfter - diskBefore) / options.puts),
      };
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * `concurrency` loops share `puts` puts; each awaits its put before the next.
 * Confirms go out `confirmBatch` ids at a time, one in flight; the rest at the
 * end. Returns each put's latency in ms.
 */
async function drive(store: Store, concurrency: number, puts: number, prefix: string, tails: readonly string[], confirmBatch: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  let toConfirm: string[] = [];
  let confirming: Promise<void> = Promise.resolve();
  let confirmInFlight = false;
  const maybeConfirm = (force: boolean): void => {
    if (confirmInFlight || toConfirm.length === 0 || (!force && toConfirm.length < confirmBatch)) return;
    const ids = toConfirm;
    toConfirm = [];
    confirmInFlight = true;
    confirming = store.confirm(ids).finally(() => {
      confirmInFlight = false;
      maybeConfirm(false);
    });
  };
  const attempt = async (): Promise<void> => {
    while (next < puts) {
      const k = next++;
      const result = benchResult(`${prefix}${k}`, k, tails[k % tails.length] ?? '');
      const started = performance.now();
      await store.put(result);
      latencies.push(performance.now() - started);
      toConfirm.push(result.attemptId);
      maybeConfirm(false);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, attempt));
  while (confirmInFlight || toConfirm.length > 0) {
    await confirming;
    maybeConfirm(true);
  }
  assert.equal(latencies.length, puts);
  return latencies;
}

/** Bytes this process has caused to be written to disk so far (Linux), or -1. */
async function diskWriteBytes(): Promise<number> {
  try {
    const match = /^write_bytes: (\d+)$/m.exec(await readFile('/proc/self/io', 'utf8'));
    return match === null ? -1 : Number(match[1]);
  } catch {
    return -1;
  }
}

function benchResult(attemptId: string, k: number, outputTail: string): AttemptResult {
  return {
    attemptId: `bench-run.t${k % 997}.${attemptId}`,
    taskId: `bench-run.t${k % 997}`,
    workerId: 'w-0123456789ab',
    outcome: 'passed',
    infraClass: '',
    reason: '',
    exitCode: 0,
    signal: '',
    startedAtMs: 1_700_000_000_000 + k,
    finishedAtMs: 1_700_000_000_100 + k,
    tests: [{ classname: 'suite', name: `case ${k}`, file: 'test/a.test.ts', status: 'passed', timeSec: 0.01, message: '', type: '', details: '' }],
    outputTail,
    logBytes: outputTail.length,
  };
}

function medians(runs: readonly OutboxRunFigures[]): OutboxRunFigures {
  const median = (pick: (f: OutboxRunFigures) => number): number => round(quantile([...runs.map(pick)].sort((a, b) => a - b), 0.5));
  return {
    putsPerSec: median((f) => f.putsPerSec),
    putP50Ms: median((f) => f.putP50Ms),
    putP99Ms: median((f) => f.putP99Ms),
    cpuUsPerPut: median((f) => f.cpuUsPerPut),
    syncsPer100Puts: median((f) => f.syncsPer100Puts),
    diskBytesPerPut: median((f) => f.diskBytesPerPut),
  };
}

function ratios(a: OutboxRunFigures, b: OutboxRunFigures): OutboxRunFigures {
  const r = (x: number, y: number): number => (y === 0 ? 0 : Math.round((x / y) * 100) / 100);
  return {
    putsPerSec: r(a.putsPerSec, b.putsPerSec),
    putP50Ms: r(a.putP50Ms, b.putP50Ms),
    putP99Ms: r(a.putP99Ms, b.putP99Ms),
    cpuUsPerPut: r(a.cpuUsPerPut, b.cpuUsPerPut),
    syncsPer100Puts: r(a.syncsPer100Puts, b.syncsPer100Puts),
    diskBytesPerPut: r(a.diskBytesPerPut, b.diskBytesPerPut),
  };
}

/** The median of the two middle samples for p = 0.5 and an even count; nearest rank otherwise. */
function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  if (p === 0.5 && sorted.length % 2 === 0) return ((sorted[sorted.length / 2 - 1] ?? 0) + (sorted[sorted.length / 2] ?? 0)) / 2;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
}

const round = (x: number): number => Math.round(x * 100) / 100;
