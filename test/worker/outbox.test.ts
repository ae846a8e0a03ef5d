import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AttemptResult } from '../../src/model/types.js';
import { sanitizeId } from '../../src/worker/executor.js';
import { encodeEntry, Outbox, outboxDir, OutboxFullError } from '../../src/worker/outbox.js';

function result(attemptId: string, finishedAtMs: number, overrides: Partial<AttemptResult> = {}): AttemptResult {
  return {
    attemptId,
    taskId: 't',
    workerId: 'w-1',
    outcome: 'passed',
    infraClass: '',
    reason: '',
    exitCode: 0,
    signal: '',
    startedAtMs: finishedAtMs - 10,
    finishedAtMs,
    tests: [
      { classname: 'c', name: 'n', file: 'f.js', status: 'passed', timeSec: 0.5, message: '', type: '', details: '' },
    ],
    outputTail: 'ok ✓\n',
    logBytes: 5,
    ...overrides,
  };
}

describe('Outbox', () => {
  let tmp: string;
  let dir: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-outbox-'));
    dir = outboxDir(tmp);
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps results across a reopen, oldest first', async () => {
    const outbox = await Outbox.open(dir);
    await outbox.put(result('b', 200));
    await outbox.put(result('run/x/1', 100));
    await outbox.put(result('a', 200));
    expect(outbox.size).toBe(3);
    expect(outbox.pending().map((r) => r.attemptId)).toEqual(['run/x/1', 'a', 'b']);

    const reopened = await Outbox.open(dir);
    expect(reopened.problems).toEqual([]);
    expect(reopened.size).toBe(3);
    expect(reopened.pending()).toEqual(outbox.pending());
    expect(reopened.pending()[0]).toEqual(result('run/x/1', 100));
  });

  it('put is idempotent per attemptId', async () => {
    const outbox = await Outbox.open(dir);
    await Promise.all([outbox.put(result('a', 1)), outbox.put(result('a', 1))]);
    await outbox.put(result('a', 2, { outcome: 'failed' }));
    expect(outbox.size).toBe(1);
    expect(outbox.pending()[0]!.outcome).toBe('passed');
    expect(readdirSync(dir)).toEqual([`${sanitizeId('a')}.json`]);
  });

  it('confirm removes results durably and ignores unknown ids', async () => {
    const outbox = await Outbox.open(dir);
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await outbox.confirm(['a', 'nope']);
    expect(outbox.pending().map((r) => r.attemptId)).toEqual(['b']);
    expect((await Outbox.open(dir)).pending().map((r) => r.attemptId)).toEqual(['b']);
  });

  it('quarantines corrupt and truncated files and reports them', async () => {
    const outbox = await Outbox.open(dir);
    await outbox.put(result('good', 1));
    await outbox.put(result('flipped', 2));
    await outbox.put(result('cut', 3));
    const flipped = path.join(dir, 'flipped.json');
    writeFileSync(flipped, readFileSync(flipped, 'utf8').replace('w-1', 'w-2'));
    const cut = path.join(dir, 'cut.json');
    const text = readFileSync(cut, 'utf8');
    writeFileSync(cut, text.slice(0, text.length / 2));
    writeFileSync(path.join(dir, 'renamed.json'), encodeEntry(result('other', 4)));

    const reopened = await Outbox.open(dir);
    expect(reopened.pending().map((r) => r.attemptId)).toEqual(['good']);
    const problems = [...reopened.problems].sort((a, b) => (a.file < b.file ? -1 : 1));
    expect(problems.map((p) => [path.basename(p.file), p.reason])).toEqual([
      ['cut.json', 'not valid JSON (truncated?)'],
      ['flipped.json', 'checksum mismatch'],
      ['renamed.json', 'holds attempt "other", not the one its name says'],
    ]);
    for (const problem of problems) {
      expect(path.dirname(problem.movedTo)).toBe(path.join(dir, 'corrupt'));
      expect(existsSync(problem.movedTo)).toBe(true);
      expect(existsSync(problem.file)).toBe(false);
    }
    // Quarantined files stay out of the outbox from then on.
    expect((await Outbox.open(dir)).problems).toEqual([]);
  });

  it('ignores and cleans up a temp file left by a crash mid-write', async () => {
    const outbox = await Outbox.open(dir);
    await outbox.put(result('a', 1));
    const temp = path.join(dir, '.tmp-0123456789ab-b.json');
    writeFileSync(temp, encodeEntry(result('b', 2)).slice(0, 20));
    const reopened = await Outbox.open(dir);
    expect(reopened.problems).toEqual([]);
    expect(reopened.pending().map((r) => r.attemptId)).toEqual(['a']);
    expect(existsSync(temp)).toBe(false);
  });

  it('refuses new results beyond entriesMax', async () => {
    const outbox = await Outbox.open(dir, { entriesMax: 2 });
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await expect(outbox.put(result('c', 3))).rejects.toBeInstanceOf(OutboxFullError);
    await outbox.put(result('a', 1)); // already held: fine
    await outbox.confirm(['a']);
    await outbox.put(result('c', 3));
    expect(outbox.size).toBe(2);
  });
});
