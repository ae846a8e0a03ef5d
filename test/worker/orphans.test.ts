import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { TaskGroups } from '../../src/worker/orphans.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Alive and not a zombie. */
const running = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

describe('TaskGroups', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  async function workDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'testudo-groups-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  function sleeper(): number {
    const child = spawn('/bin/sh', ['-c', 'sleep 30 & wait'], { detached: true, stdio: 'ignore' });
    child.unref();
    const pid = child.pid!;
    cleanups.push(async () => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
    return pid;
  }

  it('kills the process group a previous worker left running', async () => {
    const dir = await workDir();
    const pid = sleeper();
    new TaskGroups(dir).record('r1.t1.a1', pid);
    const leftovers = await new TaskGroups(dir).killLeftovers();
    expect(leftovers).toEqual({ killed: 1, interrupted: ['r1.t1.a1'] });
    // The shell is a zombie until its parent (this process) reaps it; either way it no longer runs.
    for (let i = 0; i < 100 && running(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(running(pid)).toBe(false);
    expect(await new TaskGroups(dir).killLeftovers()).toEqual({ killed: 0, interrupted: [] });
  });

  it('never signals a pid whose start time differs (a recycled pid)', async () => {
    const dir = await workDir();
    const pid = sleeper();
    await mkdir(join(dir, 'task-groups'), { recursive: true });
    await writeFile(join(dir, 'task-groups', 'r1.t1.a1'), `${pid} 1 r1.t1.a1\n`);
    // Not killed, but still named: the predecessor died with the attempt either way.
    expect(await new TaskGroups(dir).killLeftovers()).toEqual({ killed: 0, interrupted: ['r1.t1.a1'] });
    expect(alive(pid)).toBe(true);
  });

  it('reads records from before the attempt id was kept: killed, naming no attempt', async () => {
    const dir = await workDir();
    const pid = sleeper();
    const groups = new TaskGroups(dir);
    groups.record('r1.t1.a1', pid);
    const file = join(dir, 'task-groups', 'r1.t1.a1');
    const [pidText, started] = (await readFile(file, 'utf8')).trim().split(' ');
    await writeFile(file, `${pidText} ${started}\n`);
    expect(await groups.killLeftovers()).toEqual({ killed: 1, interrupted: [] });
  });

  it('names an attempt that began but never spawned a process', async () => {
    const dir = await workDir();
    new TaskGroups(dir).began('r1.t2.a1');
    expect(await new TaskGroups(dir).killLeftovers()).toEqual({ killed: 0, interrupted: ['r1.t2.a1'] });
  });

  it('drops a record the previous worker died writing, and names only whole ones', async () => {
    const dir = await workDir();
    new TaskGroups(dir).began('r1.t3.a1');
    await writeFile(join(dir, 'task-groups', 'r1.t4.a1.writing'), '- - r1.t4');
    expect(await new TaskGroups(dir).killLeftovers()).toEqual({ killed: 0, interrupted: ['r1.t3.a1'] });
    expect(await readdir(join(dir, 'task-groups'))).toEqual([]);
  });

  it('forgets a group that ended normally', async () => {
    const dir = await workDir();
    const pid = sleeper();
    const groups = new TaskGroups(dir);
    groups.record('a', pid);
    groups.forget('a');
    expect(await groups.killLeftovers()).toEqual({ killed: 0, interrupted: [] });
    expect(alive(pid)).toBe(true);
  });
});
