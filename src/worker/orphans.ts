import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { killProcessGroup, sanitizeId } from './executor.js';

/**
 * Task process groups a worker started and has not seen end. A worker killed
 * with SIGKILL cannot stop its tasks, which run on in their own process
 * groups; the next worker started on the same work dir kills them, so a
 * restart does not leave tests running twice. Each record holds the group's
 * pid and its start time from /proc, so a recycled pid is never signalled.
 */
export class TaskGroups {
  private readonly dir: string;

  constructor(workDir: string) {
    this.dir = join(workDir, 'task-groups');
  }

  async record(attemptId: string, pid: number): Promise<void> {
    const started = await startTime(pid);
    if (started === null) return;
    await mkdir(this.dir, { recursive: true });
    await writeFile(join(this.dir, sanitizeId(attemptId)), `${pid} ${started}\n`);
  }

  async forget(attemptId: string): Promise<void> {
    await rm(join(this.dir, sanitizeId(attemptId)), { force: true });
  }

  /** Kills the groups a previous worker left running; returns how many. */
  async killLeftovers(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return 0;
    }
    let killed = 0;
    for (const name of names) {
      const file = join(this.dir, name);
      const [pidText, startedText] = (await readFile(file, 'utf8').catch(() => '')).trim().split(' ');
      const pid = Number(pidText);
      if (Number.isInteger(pid) && pid > 1 && startedText !== undefined && (await startTime(pid)) === startedText) {
        if (killProcessGroup(pid, 'SIGKILL')) killed++;
      }
      await rm(file, { force: true });
    }
    return killed;
  }
}

/** The process's start time (clock ticks since boot, /proc/<pid>/stat field 22), or null. */
async function startTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
