import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireWorkDirLock, loadOrCreateWorkerId, WorkDirError } from '../../src/worker/identity.js';

describe('worker identity', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-id-'));
  });
  afterEach(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('creates an id once and reuses it', async () => {
    const workDir = path.join(tmp, 'work');
    const id = await loadOrCreateWorkerId(workDir);
    expect(id).toMatch(/^w-[0-9a-f]{12}$/);
    expect(readFileSync(path.join(workDir, 'worker-id'), 'utf8')).toBe(`${id}\n`);
    expect(await loadOrCreateWorkerId(workDir)).toBe(id);
    expect(await loadOrCreateWorkerId(path.join(tmp, 'other'))).not.toBe(id);
  });

  it('names the file when its content is corrupt', async () => {
    writeFileSync(path.join(tmp, 'worker-id'), '\u0000\u0000garbage id\n');
    const error = await loadOrCreateWorkerId(tmp).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(WorkDirError);
    expect((error as Error).message).toContain(path.join(tmp, 'worker-id'));
    expect((error as Error).message).toMatch(/is corrupt/);
  });

  it('locks the work dir, refusing a live holder', async () => {
    const lock = await acquireWorkDirLock(tmp);
    expect(lock.uncleanStart).toBe(false);
    expect(readFileSync(path.join(tmp, 'LOCK'), 'utf8')).toBe(`${process.pid}\n`);
    await expect(acquireWorkDirLock(tmp)).rejects.toThrow(`work dir ${tmp} is in use by this process (pid ${process.pid})`);
    await lock.release();
    expect(existsSync(path.join(tmp, 'LOCK'))).toBe(false);

    writeFileSync(path.join(tmp, 'LOCK'), '1\n'); // pid 1 is always alive
    await expect(acquireWorkDirLock(tmp)).rejects.toThrow(`work dir ${tmp} is in use by pid 1`);
  });

  it('takes over a stale lock, and says the previous holder died without stopping', async () => {
    const dead = spawnSync('/bin/sh', ['-c', 'echo $$']).stdout.toString().trim();
    writeFileSync(path.join(tmp, 'LOCK'), `${dead}\n`);
    const lock = await acquireWorkDirLock(tmp);
    expect(lock.uncleanStart).toBe(true);
    expect(readFileSync(path.join(tmp, 'LOCK'), 'utf8')).toBe(`${process.pid}\n`);
    await lock.release();
    // Released cleanly: the next start is clean.
    const clean = await acquireWorkDirLock(tmp);
    expect(clean.uncleanStart).toBe(false);
    await clean.release();

    writeFileSync(path.join(tmp, 'LOCK'), '');
    const again = await acquireWorkDirLock(tmp);
    expect(readFileSync(path.join(tmp, 'LOCK'), 'utf8')).toBe(`${process.pid}\n`);
    await again.release();
  });
});
