// Finished attempts' files are removed past a bounded count and age, never
// while the attempt runs or its result is in the outbox. Real attempts
// (runAttempt spawns the commands), a real outbox, the real /logs endpoint.
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAttemptId } from '../../src/model/index.js';
import { AttemptFiles, attemptDirsMaxDefault, attemptDirsRemovedPerPruneMax, attemptRetentionMsDefault } from '../../src/worker/attempt-files.js';
import { attemptDir, runAttempt } from '../../src/worker/executor.js';
import { startWorkerHttp } from '../../src/worker/http.js';
import { Outbox, outboxDir } from '../../src/worker/outbox.js';
import { template, writeReport } from './helpers.js';

describe('AttemptFiles', () => {
  let tmp: string;
  let workDir: string;
  let checkout: string;

  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-attempt-files-'));
    workDir = path.join(tmp, 'work');
    checkout = tmp;
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs attempt `id` for real: its directory holds output.log and junit.xml. */
  async function attempt(id: string): Promise<void> {
    const result = await runAttempt(
      { attemptId: id, taskId: parseAttemptId(id)?.taskId ?? '', runId: 'r1', workerId: 'w-1', attempt: 1, template: template({ command: `echo output of ${id}; ${writeReport('<testcase name="x"/>')}` }), files: [], checkoutDir: checkout },
      { workDir, killGraceMs: 200 },
    );
    expect(result.outcome, result.reason).toBe('passed');
    expect(existsSync(path.join(attemptDir(workDir, id), 'output.log'))).toBe(true);
  }

  const dirs = (): string[] => (existsSync(path.join(workDir, 'attempts')) ? readdirSync(path.join(workDir, 'attempts')).sort() : []);

  it('has named defaults: 1000 attempts, 7 days', async () => {
    const files = await AttemptFiles.open(workDir);
    expect([files.attemptDirsMax, files.attemptRetentionMs]).toEqual([attemptDirsMaxDefault, attemptRetentionMsDefault]);
    expect([attemptDirsMaxDefault, attemptRetentionMsDefault]).toEqual([1000, 7 * 24 * 3600 * 1000]);
    expect(files.size).toBe(0);
    await expect(AttemptFiles.open(workDir, { attemptDirsMax: -1 })).rejects.toThrow(RangeError);
  });

  it('keeps at most attemptDirsMax finished attempts, removing the oldest first', async () => {
    const files = await AttemptFiles.open(workDir, { attemptDirsMax: 2 });
    for (const k of [1, 2, 3, 4]) {
      await attempt(`r1.t${k}.a1`);
      const outcome = await files.afterCommitted([`r1.t${k}.a1`], 1000 + k, []);
      expect(outcome.kept).toBeLessThanOrEqual(2);
    }
    expect(dirs()).toEqual(['r1.t3.a1', 'r1.t4.a1']);
    expect(files.size).toBe(2);
  });

  it('never removes the files of a running attempt or of a result still in the outbox', async () => {
    const outbox = await Outbox.open(outboxDir(workDir));
    try {
      const files = await AttemptFiles.open(workDir, { attemptDirsMax: 0, attemptRetentionMs: 0 });
      await attempt('r1.t1.a1'); // its result stays in the outbox (not confirmed)
      await attempt('r1.t2.a1'); // still "running"
      await attempt('r1.t3.a1'); // confirmed
      const now = 1_000_000;
      await outbox.put({ attemptId: 'r1.t1.a1', taskId: 'r1.t1', workerId: 'w-1', outcome: 'passed', infraClass: '', reason: '', exitCode: 0, signal: '', startedAtMs: 1, finishedAtMs: 2, tests: [], outputTail: '', logBytes: 0 });
      // A stale note (e.g. a confirmation the worker then lost) must not remove busy files either.
      files.noteFinished(['r1.t1.a1', 'r1.t2.a1'], now - 10);
      const outcome = await files.afterCommitted(['r1.t3.a1'], now, ['r1.t2.a1', ...outbox.attemptIds()]);
      expect(outcome).toEqual({ removed: 1, skippedBusy: 2, kept: 2 });
      expect(dirs()).toEqual(['r1.t1.a1', 'r1.t2.a1']);
      // Once confirmed and no longer running, they go.
      await outbox.confirm(['r1.t1.a1']);
      expect(await files.afterCommitted(['r1.t1.a1'], now + 1, outbox.attemptIds())).toMatchObject({ removed: 2, skippedBusy: 0 });
      expect(dirs()).toEqual([]);
    } finally {
      await outbox.close();
    }
  });

  it('removes attempts older than the retention, leftovers of an earlier worker included (by their files’ age)', async () => {
    await attempt('r0.t1.a1');
    await attempt('r0.t2.a1');
    const old = new Date(Date.now() - 3 * 3600 * 1000);
    for (const name of ['r0.t1.a1']) {
      for (const p of [path.join(workDir, 'attempts', name, 'output.log'), path.join(workDir, 'attempts', name, 'junit.xml'), path.join(workDir, 'attempts', name)]) utimesSync(p, old, old);
    }
    const files = await AttemptFiles.open(workDir, { attemptRetentionMs: 3600 * 1000 });
    expect(files.size).toBe(2);
    await attempt('r1.t1.a1');
    const outcome = await files.afterCommitted(['r1.t1.a1'], Date.now(), []);
    expect(outcome).toEqual({ removed: 1, skippedBusy: 0, kept: 2 });
    expect(dirs()).toEqual(['r0.t2.a1', 'r1.t1.a1']);
    // An hour later, everything has expired.
    expect((await files.afterCommitted([], Date.now() + 2 * 3600 * 1000, [])).removed).toBe(2);
    expect(dirs()).toEqual([]);
  });

  it('removes at most attemptDirsRemovedPerPruneMax per prune; the next prune takes the rest', async () => {
    const files = await AttemptFiles.open(workDir, { attemptDirsMax: 0 });
    const ids = Array.from({ length: attemptDirsRemovedPerPruneMax + 3 }, (_, i) => `r1.t${i}.a1`);
    files.noteFinished(ids, 1);
    expect((await files.prune(2, () => false)).removed).toBe(attemptDirsRemovedPerPruneMax);
    expect((await files.prune(2, () => false)).removed).toBe(3);
  });

  it('/logs/<attempt> serves a kept log and answers 404 once it is removed', async () => {
    const http = await startWorkerHttp('127.0.0.1', 0, workDir, () => null);
    try {
      const files = await AttemptFiles.open(workDir, { attemptDirsMax: 1 });
      await attempt('r1.t1.a1');
      await files.afterCommitted(['r1.t1.a1'], 1, []);
      const before = await fetch(`http://${http.address}/logs/r1.t1.a1`);
      expect([before.status, await before.text()]).toEqual([200, 'output of r1.t1.a1\n']);
      await attempt('r1.t2.a1');
      await files.afterCommitted(['r1.t2.a1'], 2, []);
      const after = await fetch(`http://${http.address}/logs/r1.t1.a1`);
      expect(after.status).toBe(404);
      expect(await after.text()).toContain('--attempt-dirs-max');
      expect((await fetch(`http://${http.address}/logs/r1.t2.a1`)).status).toBe(200);
    } finally {
      await http.close();
    }
  });
});
