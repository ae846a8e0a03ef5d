import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runDirectPool } from '../../src/bench/direct-pool.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-direct-pool-'));
  dirs.push(dir);
  return dir;
}

/** Command i notes its start and end in `log`, sleeps, and writes its JUnit file. */
function command(i: number, log: string): string {
  return `printf 's${i}\\n' >> '${log}'; sleep 0.05; printf 'e${i}\\n' >> '${log}'; printf x > "$TESTUDO_JUNIT"`;
}

describe('runDirectPool', () => {
  it('runs every command once, at most `slots` at a time, starting them in the given order', async () => {
    const dir = await tempDir();
    const log = join(dir, 'log');
    const order = [3, 0, 5, 1, 4, 2];
    const result = await runDirectPool(order.map((_, i) => command(i, log)), order, 2, dir);
    expect(result.failed).toBe(0);
    expect(result.makespanSec).toBeGreaterThan(0);
    const events = (await readFile(log, 'utf8')).trim().split('\n');
    let running = 0;
    let most = 0;
    for (const e of events) {
      running += e.startsWith('s') ? 1 : -1;
      most = Math.max(most, running);
    }
    expect(most).toBe(2);
    expect(events.filter((e) => e.startsWith('s')).slice(0, 2).sort()).toEqual(['s0', 's3']);
    expect(events.filter((e) => e.startsWith('s')).map((e) => Number(e.slice(1))).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.xml')).sort()).toEqual(['t1.xml', 't2.xml', 't3.xml', 't4.xml', 't5.xml', 't6.xml']);
  });

  it('counts the commands that fail, and refuses an order that does not name every command once', async () => {
    const dir = await tempDir();
    expect((await runDirectPool(['true', 'exit 3', 'kill -9 $$'], [0, 1, 2], 3, dir)).failed).toBe(2);
    expect(() => runDirectPool(['true', 'true'], [0, 0], 1, dir)).toThrow(RangeError);
    expect(() => runDirectPool(['true'], [0], 0, dir)).toThrow(RangeError);
  });
});
