import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testudoCommand } from '../../src/cluster/local-cluster.js';
import { waitFor } from './harness.js';

let dirs: string[] = [];
let ups: ChildProcess[] = [];

afterEach(async () => {
  for (const up of ups) if (up.exitCode === null && up.signalCode === null) up.kill('SIGKILL');
  ups = [];
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  dirs = [];
});

/** The coordinator processes `up` started, read from /proc (tsx may run a helper process of its own). */
function childrenOf(pid: number, role = 'coordinator'): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (ppid === pid && cmdline.includes(role)) found.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function startUp(): Promise<{ up: ChildProcess; output: () => string; coordinators: number[]; workers: number[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-up-'));
  dirs.push(dir);
  const [cmd, prefix] = testudoCommand();
  const up = spawn(cmd, [...prefix, 'up', '--data-dir', dir, '--base-port', '0', '--http-base-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  ups.push(up);
  let out = '';
  up.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  up.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await waitFor('the cluster to come up', () => out.includes('Ctrl-C stops the cluster'), 60_000);
  const coordinators = childrenOf(up.pid!);
  return { up, output: () => out, coordinators, workers: childrenOf(up.pid!, 'worker') };
}

describe('testudo up', () => {
  it('starts three coordinators and three workers, prints the status table with a leader, and stops them all on SIGTERM', async () => {
    const { up, output, coordinators, workers } = await startUp();
    expect(coordinators).toHaveLength(3);
    expect(workers).toHaveLength(3);
    expect(output()).toMatch(/w3 {2}worker \(2 slots\)/);
    expect(output()).toMatch(/ID\s+ADDRESS\s+ROLE/);
    expect(output()).toMatch(/leader/);
    up.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => up.once('exit', resolve));
    expect(code).toBe(0);
    expect(output()).toContain('all workers and coordinators stopped');
    expect(coordinators.filter(alive)).toEqual([]);
    expect(workers.filter(alive)).toEqual([]);
  });

  it('leaves no orphans when it is killed with SIGKILL', async () => {
    const { up, coordinators, workers } = await startUp();
    expect(coordinators).toHaveLength(3);
    up.kill('SIGKILL');
    await waitFor('the coordinators and workers to notice and exit', () => [...coordinators, ...workers].filter(alive).length === 0, 30_000);
  });
});

describe('testudo demo (npm start)', () => {
  it('runs the bundled example on a local cluster, writes the four reports and stops everything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'testudo-demo-it-'));
    dirs.push(dir);
    const [cmd, prefix] = testudoCommand();
    const demo = spawn(cmd, [...prefix, 'demo', '--report-dir', join(dir, 'reports'), '--data-dir', join(dir, 'data'), '--no-progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
    ups.push(demo);
    let out = '';
    demo.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    demo.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => demo.once('exit', resolve));
    expect(code, out).toBe(0);
    expect(out).toMatch(/run r-\S+ \(example\): failed/);
    expect(out).toContain('demo finished');
    const summary = JSON.parse(readFileSync(join(dir, 'reports', 'testudo-report.json'), 'utf8')) as { totals: { tests: number; failed: number; flaky: number } };
    expect(summary.totals).toMatchObject({ failed: 1, flaky: 1 });
    expect(summary.totals.tests).toBeGreaterThanOrEqual(30);
    for (const ext of ['xml', 'md', 'html']) expect(readFileSync(join(dir, 'reports', `testudo-report.${ext}`), 'utf8').length).toBeGreaterThan(100);
    // Nothing it started is left running.
    expect(childrenOf(demo.pid!).length + childrenOf(demo.pid!, 'worker').length).toBe(0);
  });
});
