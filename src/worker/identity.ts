// A worker's stable identity (`<workDir>/worker-id`) and the lock that keeps
// two worker processes off one work dir (`<workDir>/LOCK`).

import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir } from './outbox.js';

const workerIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class WorkDirError extends Error {
  override readonly name = 'WorkDirError';
}

/**
 * The worker id stored in `<workDir>/worker-id`, created (`w-` + 12 random hex
 * characters, written durably) on first use. Throws {@link WorkDirError} when
 * the file exists but does not hold an id.
 */
export async function loadOrCreateWorkerId(workDir: string): Promise<string> {
  await mkdir(workDir, { recursive: true });
  const file = path.join(workDir, 'worker-id');
  try {
    return parseWorkerId(await readFile(file, 'utf8'), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = `w-${randomBytes(6).toString('hex')}`;
  await writeDurably(tempOf(file), `${id}\n`);
  try {
    await link(tempOf(file), file);
  } catch (err) {
    await rm(tempOf(file), { force: true });
    // Another process created it first: use its id.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return parseWorkerId(await readFile(file, 'utf8'), file);
    throw err;
  }
  await rm(tempOf(file), { force: true });
  await fsyncDir(workDir);
  return id;
}

function parseWorkerId(text: string, file: string): string {
  const id = text.trim();
  if (!workerIdPattern.test(id)) {
    const shown = JSON.stringify(id.slice(0, 40));
    throw new WorkDirError(
      `the worker id file ${file} is corrupt (holds ${shown}, expected an id like w-0123456789ab): fix it, or delete it to register as a new worker`,
    );
  }
  return id;
}

export interface WorkDirLock {
  readonly file: string;
  /** A lock of a process no longer alive was found and taken over: the previous worker died without stopping. */
  readonly uncleanStart: boolean;
  /** Removes the lock (if it is still ours). */
  release(): Promise<void>;
}

/**
 * Locks a work dir for this process: `<workDir>/LOCK` holding the pid, created
 * atomically (a complete temp file hard-linked into place, so the lock is
 * never seen empty). A lock whose pid is not alive is stale and taken over.
 * Throws {@link WorkDirError} when a live process holds it.
 */
export async function acquireWorkDirLock(workDir: string): Promise<WorkDirLock> {
  await mkdir(workDir, { recursive: true });
  const file = path.join(workDir, 'LOCK');
  const temp = tempOf(file);
  await writeDurably(temp, `${process.pid}\n`);
  let uncleanStart = false;
  try {
    for (let tries = 0; tries < 5; tries++) {
      try {
        await link(temp, file);
        await fsyncDir(workDir);
        return { file, uncleanStart, release: () => releaseLock(file) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = await readPid(file);
      if (holder === 'gone') continue;
      if (holder !== undefined && isAlive(holder)) {
        const who = holder === process.pid ? `this process (pid ${holder})` : `pid ${holder}`;
        throw new WorkDirError(`work dir ${workDir} is in use by ${who} (lock file ${file})`);
      }
      // Stale (or unreadable) lock: move it aside, then check we moved what we
      // judged stale and not a lock another process just took over.
      const aside = `${file}.stale-${process.pid}-${randomBytes(3).toString('hex')}`;
      try {
        await rename(file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      const moved = await readPid(aside);
      if (moved !== holder && moved !== 'gone' && moved !== undefined && isAlive(moved)) {
        // Someone else's fresh lock: put it back unless a new one appeared.
        await link(aside, file).catch(() => undefined);
      } else {
        uncleanStart = true;
      }
      await rm(aside, { force: true });
    }
    throw new WorkDirError(`cannot lock work dir ${workDir}: ${file} keeps changing`);
  } finally {
    await rm(temp, { force: true });
  }
}

async function releaseLock(file: string): Promise<void> {
  const holder = await readPid(file);
  if (holder === process.pid) await unlink(file).catch(() => undefined);
}

/** The pid in a lock file; 'gone' when there is no file; undefined when it holds no pid. */
async function readPid(file: string): Promise<number | 'gone' | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  const trimmed = text.trim();
  if (!/^\d{1,10}$/.test(trimmed)) return undefined;
  const pid = Number(trimmed);
  return pid > 0 ? pid : undefined;
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tempOf(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await open(file, 'w', 0o644);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}
