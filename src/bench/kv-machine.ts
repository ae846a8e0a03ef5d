import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { encodeCommand } from '../coordinator/codec.js';
import { KvMachine } from '../coordinator/kv-machine.js';

/**
 * The key-value state machine alone, in this process: how fast it applies
 * puts and pages through a prefix. No Raft, no disk, no network, so a
 * regression here (a quadratic path in apply or list) shows without the
 * noise of a cluster. The figures are wall-clock rates, so they belong here,
 * not in a test that may run on a loaded machine.
 */
export interface KvMachineBenchOptions {
  /** Distinct keys put, one command each. */
  readonly puts: number;
  readonly valueBytes: number;
  /** Keys per list page. */
  readonly pageSize: number;
}

export interface KvMachineBenchResult {
  puts: number;
  valueBytes: number;
  applyMs: number;
  putsPerSec: number;
  pageSize: number;
  pages: number;
  listMs: number;
  pagesPerSec: number;
}

/** Upper bound on `puts`: the commands are built in memory before timing starts. */
export const kvMachineBenchPutsMax = 1_000_000;

export function runKvMachineBench(options: KvMachineBenchOptions): KvMachineBenchResult {
  const { puts, valueBytes, pageSize } = options;
  assert(Number.isSafeInteger(puts) && puts >= 1 && puts <= kvMachineBenchPutsMax, `puts must be in [1, ${kvMachineBenchPutsMax}]`);
  assert(Number.isSafeInteger(pageSize) && pageSize >= 1, 'pageSize must be a positive integer');
  const value = new Uint8Array(valueBytes).fill(7);
  // Keys in a scrambled order (7919 is prime, so i → 7919·i mod n is a permutation when n is not a multiple of it).
  const stride = puts % 7919 === 0 ? 1 : 7919;
  const commands = Array.from({ length: puts }, (_, i) =>
    encodeCommand({ idempotencyKey: `req-${i}`, proposedAtMs: 1000, op: { type: 'put', key: `bench/${String((i * stride) % puts).padStart(7, '0')}`, value } }),
  );
  const machine = new KvMachine();
  const applyStarted = performance.now();
  commands.forEach((data, i) => machine.applyCommand(i + 1, data));
  const applyMs = performance.now() - applyStarted;
  assert.equal(machine.size, puts, 'every put must land on its own key');

  const listStarted = performance.now();
  let startAfter = '';
  let pages = 0;
  let listed = 0;
  for (;;) {
    const page = machine.list({ prefix: 'bench/', startAfter, limit: pageSize });
    pages++;
    listed += page.items.length;
    if (!page.more) break;
    startAfter = page.items[page.items.length - 1]?.key ?? '';
  }
  const listMs = performance.now() - listStarted;
  assert.equal(listed, puts, 'paging must return every key once');
  return {
    puts,
    valueBytes,
    applyMs: round(applyMs),
    putsPerSec: Math.round((puts * 1000) / Math.max(applyMs, 0.001)),
    pageSize,
    pages,
    listMs: round(listMs),
    pagesPerSec: Math.round((pages * 1000) / Math.max(listMs, 0.001)),
  };
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
