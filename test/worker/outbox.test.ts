import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AttemptResult } from '../../src/model/types.js';
import { sanitizeId } from '../../src/worker/executor.js';
import { outboxRecordBytesMax } from '../../src/worker/limits.js';
import type { OutboxOptions } from '../../src/worker/outbox.js';
import { Outbox, outboxDir, OutboxFullError, OutboxRecordTooLargeError } from '../../src/worker/outbox.js';

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

/** The previous implementation's file format (one file per result), for the migration test. */
function legacyEncodeEntry(r: AttemptResult): string {
  const payload = JSON.stringify(r);
  const sha256 = createHash('sha256').update(payload, 'utf8').digest('hex');
  return `${JSON.stringify({ format: 1, sha256, result: payload })}\n`;
}

interface Frame {
  readonly offset: number;
  readonly length: number;
  readonly record: { k: string; r?: AttemptResult; ids?: string[] };
}

/** Reads the frames of an intact segment: [u32 LE length][u32 LE crc32c][JSON]. */
function frames(file: string): Frame[] {
  const data = readFileSync(file);
  const out: Frame[] = [];
  let pos = 0;
  while (pos < data.length) {
    const length = data.readUInt32LE(pos);
    out.push({ offset: pos, length, record: JSON.parse(data.subarray(pos + 8, pos + 8 + length).toString('utf8')) as Frame['record'] });
    pos += 8 + length;
  }
  return out;
}

function segments(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => /^seg-\d{10}\.log$/.test(name))
    .sort();
}

function ids(outbox: Outbox): string[] {
  return outbox.pending().map((r) => r.attemptId);
}

describe('Outbox', () => {
  let tmp: string;
  let dir: string;
  let opened: Outbox[];
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-outbox-'));
    dir = outboxDir(tmp);
    opened = [];
  });
  afterEach(async () => {
    for (const outbox of opened) await outbox.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  async function openOutbox(options: OutboxOptions = {}): Promise<Outbox> {
    const outbox = await Outbox.open(dir, options);
    opened.push(outbox);
    return outbox;
  }

  /** The only segment file's path. */
  function onlySegment(): string {
    const names = segments(dir);
    expect(names).toHaveLength(1);
    return path.join(dir, names[0]!);
  }

  it('keeps results across a reopen, oldest first', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('b', 200));
    await outbox.put(result('run/x/1', 100));
    await outbox.put(result('a', 200));
    expect(outbox.size).toBe(3);
    expect(ids(outbox)).toEqual(['run/x/1', 'a', 'b']);
    expect(readdirSync(dir)).toEqual(['seg-0000000001.log']);

    // Reopened without closing: what a resolved put wrote is on disk.
    const reopened = await openOutbox();
    expect(reopened.problems).toEqual([]);
    expect(reopened.size).toBe(3);
    expect(reopened.pending()).toEqual(outbox.pending());
    expect(reopened.pending()[0]).toEqual(result('run/x/1', 100));
    expect(reopened.has('a')).toBe(true);
    expect(reopened.has('zzz')).toBe(false);
  });

  it('put is idempotent per attemptId, the first result stays', async () => {
    const outbox = await openOutbox();
    await Promise.all([outbox.put(result('a', 1)), outbox.put(result('a', 1))]);
    await outbox.put(result('a', 2, { outcome: 'failed' }));
    expect(outbox.size).toBe(1);
    expect(outbox.pending()[0]!.outcome).toBe('passed');
    await outbox.close();
    expect(frames(onlySegment()).map((f) => f.record.k)).toEqual(['put']);
  });

  it('confirm removes results across a reopen and ignores unknown ids', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await outbox.confirm(['a', 'nope']);
    expect(ids(outbox)).toEqual(['b']);
    expect(outbox.has('a')).toBe(false);
    await outbox.confirm(['nope']); // nothing to write
    await outbox.close();
    expect(frames(onlySegment()).map((f) => f.record)).toEqual([
      { k: 'put', r: result('a', 1) },
      { k: 'put', r: result('b', 2) },
      { k: 'confirm', ids: ['a'] },
    ]);
    expect(ids(await openOutbox())).toEqual(['b']);
  });

  it('a result put again after its confirm is held again', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.confirm(['a']);
    await outbox.put(result('a', 1));
    expect(ids(outbox)).toEqual(['a']);
    expect(ids(await openOutbox())).toEqual(['a']);
  });

  it('a confirm issued while the put is being written waits for it', async () => {
    const outbox = await openOutbox();
    const put = outbox.put(result('a', 1));
    const confirm = outbox.confirm(['a']);
    await Promise.all([put, confirm]);
    expect(outbox.size).toBe(0);
    expect((await openOutbox()).size).toBe(0);
  });

  it('group-commits concurrent puts: one write and one sync for a burst (strict sync)', async () => {
    const outbox = await openOutbox({ syncDelayMs: 0 });
    const before = outbox.stats();
    await Promise.all(Array.from({ length: 100 }, (_, i) => outbox.put(result(`r${String(i).padStart(3, '0')}`, i))));
    const after = outbox.stats();
    expect(outbox.size).toBe(100);
    expect(after.syncs - before.syncs).toBeLessThan(100);
    expect(after.syncs - before.syncs).toBe(1);
    expect(after.writes - before.writes).toBe(1);

    // Confirms are written but not synced on their own (a lost confirm only means a resend).
    await outbox.confirm(['r000', 'r001']);
    expect(outbox.stats().syncs).toBe(after.syncs);
    expect(outbox.stats().writes).toBe(after.writes + 1);

    // Puts arriving while a commit is under way go together into the next one.
    const first = outbox.put(result('x0', 1000));
    await new Promise((resolve) => setImmediate(resolve)); // the first commit has started
    const rest = Array.from({ length: 20 }, (_, i) => outbox.put(result(`x${i + 1}`, 1000 + i)));
    await Promise.all([first, ...rest]);
    expect(outbox.stats().syncs - after.syncs).toBeLessThanOrEqual(2);

    const reopened = await openOutbox();
    expect(reopened.size).toBe(98 + 21);
    expect(reopened.problems).toEqual([]);
  });

  /** Waits (at most 5 s) until `probe` holds. */
  async function until(what: string, probe: () => boolean): Promise<void> {
    const deadline = performance.now() + 5000;
    while (!probe()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  it('defers the sync: a put resolves once written, and results confirmed before the delay are never synced', async () => {
    const outbox = await openOutbox({ syncDelayMs: 60_000 });
    const ids = Array.from({ length: 10 }, (_, i) => `d${i}`);
    await Promise.all(ids.map((id, i) => outbox.put(result(id, i))));
    expect(outbox.stats()).toMatchObject({ syncs: 0, writes: 1, unsynced: 10 });
    await outbox.confirm(ids.slice(0, 4));
    expect(outbox.stats().unsynced).toBe(6);
    await outbox.confirm(ids.slice(4));
    expect(outbox.stats()).toMatchObject({ syncs: 0, unsynced: 0 });
    await outbox.close();
    expect(outbox.stats().syncs).toBe(0);
    expect((await openOutbox()).size).toBe(0);
  });

  it('syncs the results still unconfirmed once the delay is over, one sync for the burst', async () => {
    const outbox = await openOutbox({ syncDelayMs: 20 });
    await Promise.all(['u0', 'u1', 'u2'].map((id, i) => outbox.put(result(id, i))));
    expect(outbox.stats()).toMatchObject({ syncs: 0, unsynced: 3 });
    await until('the deferred sync ran', () => outbox.stats().unsynced === 0);
    expect(outbox.stats().syncs).toBe(1);
    // A confirm after the sync adds none; a later put is synced by a sync of its own.
    await outbox.confirm(['u0']);
    await outbox.put(result('u3', 3));
    await until('the second deferred sync ran', () => outbox.stats().unsynced === 0);
    expect(outbox.stats().syncs).toBe(2);
    const reopened = await openOutbox();
    expect(reopened.pending().map((r) => r.attemptId)).toEqual(['u1', 'u2', 'u3']);
  });

  it('syncs when the oldest unconfirmed result turns the delay old: a stream of results confirmed in time is never synced', async () => {
    // Fake timers and clock for the delay; the file writes stay real (setImmediate is not faked).
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const outbox = await openOutbox({ syncDelayMs: 1000 });
      /** Gives the writer (real setImmediate) the turns to start what the timers queued: a sync counts itself as it starts. */
      const settle = async (): Promise<void> => {
        for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
      };
      await outbox.put(result('a', 1));
      await vi.advanceTimersByTimeAsync(600);
      await outbox.put(result('b', 2));
      await outbox.confirm(['a']);
      // a's timer fires at 1,000 ms: b, the oldest left, is 400 ms old, so no sync; one is set for b instead.
      await vi.advanceTimersByTimeAsync(500);
      await settle();
      expect(outbox.stats()).toMatchObject({ syncs: 0, unsynced: 1 });
      await outbox.confirm(['b']);
      await vi.advanceTimersByTimeAsync(1000);
      await settle();
      expect(outbox.stats()).toMatchObject({ syncs: 0, unsynced: 0 });
      // One left unconfirmed is synced once it is 1,000 ms old, not before.
      await outbox.put(result('c', 3));
      await vi.advanceTimersByTimeAsync(990);
      await settle();
      expect(outbox.stats()).toMatchObject({ syncs: 0, unsynced: 1 });
      await vi.advanceTimersByTimeAsync(20);
      await settle();
      expect(outbox.stats().syncs).toBe(1);
      // The fdatasync itself is real I/O: wait for it (Date is not faked; at most 5 s).
      for (const deadline = Date.now() + 5000; outbox.stats().unsynced > 0 && Date.now() < deadline; ) await new Promise((resolve) => setImmediate(resolve));
      expect(outbox.stats()).toMatchObject({ syncs: 1, unsynced: 0 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('close syncs the results whose sync was still due; a compaction makes them durable too', async () => {
    const first = await openOutbox({ syncDelayMs: 60_000 });
    await first.put(result('c0', 1));
    await first.put(result('c1', 2));
    expect(first.stats()).toMatchObject({ syncs: 0, unsynced: 2 });
    await first.close();
    expect(first.stats()).toMatchObject({ syncs: 1, unsynced: 0 });

    const second = await openOutbox({ syncDelayMs: 60_000 });
    await second.put(result('c2', 3));
    expect(second.stats().unsynced).toBe(1);
    await second.compact();
    expect(second.stats().unsynced).toBe(0);
    expect(second.pending().map((r) => r.attemptId)).toEqual(['c0', 'c1', 'c2']);
  });

  it('refuses a negative or fractional sync delay', async () => {
    await expect(Outbox.open(dir, { syncDelayMs: -1 })).rejects.toThrow(/syncDelayMs must be a non-negative integer/);
    await expect(Outbox.open(dir, { syncDelayMs: 1.5 })).rejects.toThrow(/syncDelayMs/);
  });

  it('cuts a torn last frame off silently and appends after the whole ones', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await outbox.put(result('c', 3));
    await outbox.close();
    const file = onlySegment();
    const third = frames(file)[2]!;
    truncateSync(file, third.offset + 8 + third.length - 5);

    const reopened = await openOutbox();
    expect(reopened.problems).toEqual([]);
    expect(ids(reopened)).toEqual(['a', 'b']);
    expect(readFileSync(file).length).toBe(third.offset);
    await reopened.put(result('d', 4));
    await reopened.close();
    const again = await openOutbox();
    expect(again.problems).toEqual([]);
    expect(ids(again)).toEqual(['a', 'b', 'd']);
  });

  it('treats a partial header and zero fill at the end as a torn write', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.close();
    appendFileSync(onlySegment(), Buffer.from([0x20, 0x01, 0x00]));
    let reopened = await openOutbox();
    expect(reopened.problems).toEqual([]);
    expect(ids(reopened)).toEqual(['a']);
    await reopened.close();
    appendFileSync(onlySegment(), Buffer.alloc(300));
    reopened = await openOutbox();
    expect(reopened.problems).toEqual([]);
    expect(ids(reopened)).toEqual(['a']);
  });

  it('skips a middle record with a bad checksum, reports it and keeps the later ones', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await outbox.put(result('c', 3));
    await outbox.close();
    const file = onlySegment();
    const middle = frames(file)[1]!;
    const data = readFileSync(file);
    const at = data.indexOf('w-1', middle.offset + 8);
    data[at + 2] = '2'.charCodeAt(0);
    writeFileSync(file, data);

    const reopened = await openOutbox();
    expect(ids(reopened)).toEqual(['a', 'c']);
    expect(reopened.problems).toHaveLength(1);
    const problem = reopened.problems[0]!;
    expect(problem.file).toBe(file);
    expect(problem.reason).toBe(`a frame with a wrong checksum at offset ${middle.offset}: ${middle.length + 8} bytes skipped`);
    expect(path.dirname(problem.movedTo)).toBe(path.join(dir, 'corrupt'));
    expect(readFileSync(problem.movedTo)).toEqual(data);
    // The live results were rewritten into a new segment; the damaged one is set aside.
    expect(segments(dir)).toEqual(['seg-0000000002.log']);
    await reopened.close();
    const again = await openOutbox();
    expect(again.problems).toEqual([]);
    expect(ids(again)).toEqual(['a', 'c']);
  });

  it('resynchronizes after a damaged length field', async () => {
    const outbox = await openOutbox();
    for (const [i, id] of ['a', 'b', 'c', 'd', 'e'].entries()) await outbox.put(result(id, i));
    await outbox.close();
    const file = onlySegment();
    const [, b, , d, e] = frames(file);
    const data = readFileSync(file);
    data.writeUInt32LE(0xffffffff, b!.offset); // impossible length
    data.writeUInt32LE(d!.length + 8 + e!.length, d!.offset); // plausible but wrong: it swallows e
    writeFileSync(file, data);

    const reopened = await openOutbox();
    expect(ids(reopened)).toEqual(['a', 'c', 'e']);
    expect(reopened.problems.map((p) => p.reason)).toEqual([
      `a frame with an impossible length at offset ${b!.offset}: ${b!.length + 8} bytes skipped`,
      `a frame with a wrong checksum at offset ${d!.offset}: ${d!.length + 8} bytes skipped`,
    ]);
  });

  it('reports unreadable bytes at the end that are not a torn write', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await outbox.close();
    const file = onlySegment();
    const last = frames(file)[1]!;
    const data = readFileSync(file);
    data[last.offset + 20] = data[last.offset + 20]! ^ 0x01; // a bit flip in the last record
    writeFileSync(file, data);
    const reopened = await openOutbox();
    expect(ids(reopened)).toEqual(['a']);
    expect(reopened.problems.map((p) => p.reason)).toEqual([
      `a frame with a wrong checksum at offset ${last.offset}: the ${last.length + 8} bytes to the end are unreadable`,
    ]);
  });

  it('reports a torn frame at the end of a segment that is not the last', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await outbox.close();
    const file = onlySegment();
    const data = readFileSync(file);
    const second = frames(file)[1]!;
    // seg 1 ends mid-frame, yet a later segment exists.
    writeFileSync(file, data.subarray(0, second.offset + 12));
    writeFileSync(path.join(dir, 'seg-0000000002.log'), data.subarray(second.offset));
    const reopened = await openOutbox();
    expect(ids(reopened)).toEqual(['a', 'b']);
    expect(reopened.problems.map((p) => [path.basename(p.file), p.reason])).toEqual([
      ['seg-0000000001.log', `an incomplete frame at offset ${second.offset}, at the end of a segment that is not the last: 12 bytes dropped`],
    ]);
    expect(segments(dir)).toEqual(['seg-0000000003.log']);
  });

  it('compaction keeps exactly the live set and removes the old segments', async () => {
    const outbox = await openOutbox({ compactBytesMin: 2048 });
    await Promise.all(Array.from({ length: 30 }, (_, i) => outbox.put(result(`r${String(i).padStart(2, '0')}`, i))));
    expect(outbox.stats().compactions).toBe(0);
    const confirmed = Array.from({ length: 27 }, (_, i) => `r${String(i).padStart(2, '0')}`);
    await outbox.confirm(confirmed);
    await outbox.close(); // lets the compaction due after the confirm finish
    expect(outbox.stats().compactions).toBe(1);
    const file = onlySegment();
    expect(path.basename(file)).toBe('seg-0000000002.log');
    expect(frames(file).map((f) => f.record)).toEqual([
      { k: 'put', r: result('r27', 27) },
      { k: 'put', r: result('r28', 28) },
      { k: 'put', r: result('r29', 29) },
    ]);
    const reopened = await openOutbox();
    expect(reopened.problems).toEqual([]);
    expect(ids(reopened)).toEqual(['r27', 'r28', 'r29']);
    expect(reopened.stats().segment).toBe('seg-0000000002.log');
  });

  it('keeps working after a compaction: appends go to the new segment', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await outbox.confirm(['a']);
    await outbox.compact();
    expect(segments(dir)).toEqual(['seg-0000000002.log']);
    await outbox.put(result('c', 3));
    await outbox.confirm(['b']);
    expect(outbox.stats().segment).toBe('seg-0000000002.log');
    expect(ids(await openOutbox())).toEqual(['c']);
  });

  it('recovers from a crash mid-compaction: old and new segments together, a leftover temp file', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await outbox.put(result('c', 3));
    await outbox.confirm(['a']);
    const saved = path.join(tmp, 'seg-1.saved');
    copyFileSync(path.join(dir, 'seg-0000000001.log'), saved);
    await outbox.compact();
    await outbox.confirm(['b']);
    await outbox.close();
    // The old segment's deletion was lost, and a later compaction's temp file was left behind.
    copyFileSync(saved, path.join(dir, 'seg-0000000001.log'));
    writeFileSync(path.join(dir, '.tmp-seg-0000000003.log'), Buffer.from('partial'));
    expect(readdirSync(dir).sort()).toEqual(['.tmp-seg-0000000003.log', 'seg-0000000001.log', 'seg-0000000002.log']);

    const reopened = await openOutbox();
    expect(reopened.problems).toEqual([]);
    expect(ids(reopened)).toEqual(['c']);
    expect(readdirSync(dir)).toEqual(['seg-0000000003.log']);
    await reopened.close();
    expect(frames(path.join(dir, 'seg-0000000003.log')).map((f) => f.record)).toEqual([{ k: 'put', r: result('c', 3) }]);
  });

  it('migrates results of the previous one-file-per-result format', async () => {
    writeFileSync(path.join(tmp, 'unrelated.json'), '{}'); // outside the outbox: untouched
    const old = [result('run/x/1', 10), result('b', 5)];
    mkdirSync(dir);
    for (const r of old) writeFileSync(path.join(dir, `${sanitizeId(r.attemptId)}.json`), legacyEncodeEntry(r));
    writeFileSync(path.join(dir, 'cut.json'), legacyEncodeEntry(result('cut', 1)).slice(0, 30));
    writeFileSync(path.join(dir, '.tmp-0123456789ab-z.json'), 'partial');

    const outbox = await openOutbox();
    expect(ids(outbox)).toEqual(['b', 'run/x/1']);
    expect(outbox.pending()).toEqual([result('b', 5), result('run/x/1', 10)]);
    expect(outbox.problems.map((p) => [path.basename(p.file), p.reason])).toEqual([['cut.json', 'not valid JSON (truncated?)']]);
    expect(existsSync(outbox.problems[0]!.movedTo)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['corrupt', 'seg-0000000001.log']);
    await outbox.put(result('c', 20));
    await outbox.confirm(['b']);
    await outbox.close();

    const reopened = await openOutbox();
    expect(reopened.problems).toEqual([]);
    expect(ids(reopened)).toEqual(['run/x/1', 'c']);
    expect(existsSync(path.join(tmp, 'unrelated.json'))).toBe(true);
  });

  it('refuses new results beyond entriesMax', async () => {
    const outbox = await openOutbox({ entriesMax: 2 });
    await outbox.put(result('a', 1));
    await outbox.put(result('b', 2));
    await expect(outbox.put(result('c', 3))).rejects.toBeInstanceOf(OutboxFullError);
    await outbox.put(result('a', 1)); // already held: fine
    await outbox.confirm(['a']);
    await outbox.put(result('c', 3));
    expect(outbox.size).toBe(2);
  });

  it('counts results being written toward entriesMax', async () => {
    const outbox = await openOutbox({ entriesMax: 2 });
    const puts = [outbox.put(result('a', 1)), outbox.put(result('b', 2))];
    await expect(outbox.put(result('c', 3))).rejects.toBeInstanceOf(OutboxFullError);
    await Promise.all(puts);
    expect(ids(outbox)).toEqual(['a', 'b']);
  });

  it('refuses new results beyond liveBytesMax', async () => {
    const outbox = await openOutbox({ liveBytesMax: 1500 });
    await outbox.put(result('a', 1, { outputTail: 'x'.repeat(600) }));
    await expect(outbox.put(result('b', 2, { outputTail: 'x'.repeat(600) }))).rejects.toThrow(/limit of 1500/);
    await outbox.confirm(['a']);
    await outbox.put(result('b', 2, { outputTail: 'x'.repeat(600) }));
    expect(ids(outbox)).toEqual(['b']);
  });

  it('refuses a result too large for one record, with a clear error', async () => {
    const outbox = await openOutbox({ recordBytesMax: 1000 });
    const error = await outbox.put(result('big', 1, { outputTail: 'x'.repeat(2000) })).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(OutboxRecordTooLargeError);
    expect((error as Error).message).toMatch(/"big" is \d+ bytes as JSON, over the outbox's limit of 1000/);
    expect(outbox.size).toBe(0);
    await outbox.put(result('small', 1));
    expect(ids(outbox)).toEqual(['small']);

    const byDefault = await openOutbox();
    await expect(byDefault.put(result('huge', 1, { outputTail: 'x'.repeat(outboxRecordBytesMax) }))).rejects.toBeInstanceOf(
      OutboxRecordTooLargeError,
    );
  });

  it('fails puts after close', async () => {
    const outbox = await openOutbox();
    await outbox.put(result('a', 1));
    await outbox.close();
    await expect(outbox.put(result('b', 2))).rejects.toThrow(/closed/);
    expect(ids(await openOutbox())).toEqual(['a']);
  });
});
