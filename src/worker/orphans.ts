import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { killProcessGroup, sanitizeId } from './executor.js';

/**
 * Task process groups a worker started and has not seen end. A worker killed
 * with SIGKILL cannot stop its tasks, which run on in their own process
 * groups; the next worker started on the same work dir kills them, so a
 * restart does not leave tests running twice. Each record holds the group's
 * pid and its start time from /proc, so a recycled pid is never signalled,
 * and the attempt's id, so the next worker can name the attempts its
 * predecessor died with (the coordinator counts them as lost).
 *
 * A running attempt's records are written and removed synchronously: a few
 * small files on the worker's local disk, each operation tens of
 * microseconds, where an asynchronous one is a round trip through the thread
 * pool that the attempt's slot waits for (docs/architecture.md, "An
 * attempt's own file operations are synchronous").
 */

/** What a worker starting on a work dir found of its predecessor's task groups. */
export interface Leftovers {
  /** Groups still running, now killed. */
  readonly killed: number;
  /** Every attempt the predecessor started and did not see end (running or not). */
  readonly interrupted: readonly string[];
}

/** The suffix of a record being written (renamed over the record once whole). */
const tempSuffix = '.writing';

/** Attempt ids kept from the predecessor's records, at most (a work dir holds one worker's slots). */
export const leftoverAttemptsMax = 4096;

export class TaskGroups {
  private readonly dir: string;

  constructor(workDir: string) {
    this.dir = join(workDir, 'task-groups');
  }

  /** An attempt begins (before its setup and spawn): named on the next start if this process dies first. */
  began(attemptId: string): void {
    mkdirSync(this.dir, { recursive: true });
    this.write(attemptId, `- - ${attemptId}\n`);
  }

  /** The attempt's task process group is `pid` (replaces the record began wrote). */
  record(attemptId: string, pid: number): void {
    const started = startTime(pid);
    if (started === null) return;
    mkdirSync(this.dir, { recursive: true });
    this.write(attemptId, `${pid} ${started} ${attemptId}\n`);
  }

  /** Replaces the attempt's record whole (a temp file renamed over it): a kill mid-write never leaves it empty. */
  private write(attemptId: string, text: string): void {
    const file = join(this.dir, sanitizeId(attemptId));
    writeFileSync(`${file}${tempSuffix}`, text);
    renameSync(`${file}${tempSuffix}`, file);
  }

  forget(attemptId: string): void {
    rmSync(join(this.dir, sanitizeId(attemptId)), { force: true });
  }

  /**
   * Kills the groups a previous worker left running and forgets them all;
   * returns how many it killed and the attempts they belonged to (records
   * from before the attempt id was kept name none).
   */
  async killLeftovers(): Promise<Leftovers> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return { killed: 0, interrupted: [] };
    }
    let killed = 0;
    const interrupted: string[] = [];
    for (const name of names) {
      const file = join(this.dir, name);
      if (name.endsWith(tempSuffix)) {
        // A record being replaced when the worker died; the record it replaced is still there.
        await rm(file, { force: true });
        continue;
      }
      const [pidText, startedText, attemptId] = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ');
      const pid = Number(pidText);
      if (Number.isInteger(pid) && pid > 1 && startedText !== undefined && startTime(pid) === startedText) {
        if (killProcessGroup(pid, 'SIGKILL')) killed++;
      }
      if (attemptId !== undefined && attemptId !== '' && interrupted.length < leftoverAttemptsMax) interrupted.push(attemptId);
      await rm(file, { force: true });
    }
    return { killed, interrupted };
  }
}

/** The process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or null. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
