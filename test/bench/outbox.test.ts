import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { OutboxBenchResult } from '../../src/bench/outbox.js';
import { LevelDbOutboxCandidate } from '../../src/bench/outbox-leveldb.js';
import { main } from '../../src/cli/main.js';
import type { AttemptResult } from '../../src/model/types.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-bench-outbox-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, (t) => (out += t), (t) => (err += t));
  return { code, out, err };
}

function result(attemptId: string): AttemptResult {
  return {
    attemptId,
    taskId: 't',
    workerId: 'w',
    outcome: 'passed',
    infraClass: '',
    reason: '',
    exitCode: 0,
    signal: '',
    startedAtMs: 1,
    finishedAtMs: 2,
    tests: [],
    outputTail: '',
    logBytes: 0,
  };
}

describe('testudo bench outbox', () => {
  it('runs both storages, alternating, and prints one JSON document with medians and ratios', async () => {
    const { code, out, err } = await cli(['bench', 'outbox', '--concurrency', '1,4', '--puts', '40', '--warmup-puts', '4', '--pairs', '2', '--confirm-batch', '8', '--data-dir', tmp]);
    expect(code, err).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!) as OutboxBenchResult;
    expect(report.cases.map((c) => c.concurrency)).toEqual([1, 4]);
    for (const c of report.cases) {
      expect(c.runs.map((r) => r.storage)).toEqual(['log', 'leveldb', 'leveldb', 'log']);
      for (const figures of [c.log, c.leveldb]) {
        expect(figures.putsPerSec).toBeGreaterThan(0);
        expect(figures.putP99Ms).toBeGreaterThanOrEqual(figures.putP50Ms);
        expect(figures.cpuUsPerPut).toBeGreaterThan(0);
      }
    }
    // Group commit on both sides: one synced write per put alone, fewer with 4 at once.
    const [one, four] = report.cases;
    expect(one!.log.syncsPer100Puts).toBeGreaterThanOrEqual(100);
    expect(one!.leveldb.syncsPer100Puts).toBe(100);
    expect(four!.log.syncsPer100Puts).toBeLessThan(100);
    expect(four!.leveldb.syncsPer100Puts).toBeLessThan(100);
    expect(readdirSync(tmp)).toEqual([]); // every run's directory removed
  }, 30_000);

  it('refuses bad flag values with exit 2', async () => {
    for (const args of [['--concurrency', '0'], ['--concurrency', '1,x'], ['--puts', '2000000'], ['--pairs', '-1']]) {
      const { code, out, err } = await cli(['bench', 'outbox', ...args]);
      expect(code, args.join(' ')).toBe(2);
      expect(out).toBe('');
      expect(err, args.join(' ')).toContain(args[0]);
    }
  });

  it("the LevelDB candidate keeps what a synced batch wrote and forgets what was confirmed", async () => {
    const dir = path.join(tmp, 'candidate');
    const outbox = await LevelDbOutboxCandidate.open(dir);
    await Promise.all(['a', 'b', 'c'].map((id) => outbox.put(result(id))));
    expect(outbox.syncedBatches).toBe(1);
    await outbox.confirm(['b', 'unknown']);
    await outbox.close();
    const reopened = await LevelDbOutboxCandidate.open(dir);
    expect(reopened.size).toBe(2);
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
