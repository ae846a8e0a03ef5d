import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface DirectPoolResult {
  /** First spawn → last exit, wall seconds. */
  readonly makespanSec: number;
  /** Commands that exited non-zero or were killed by a signal. */
  readonly failed: number;
}

/**
 * Runs `commands` (each through `sh -c`) from this process, at most `slots`
 * at a time, in `order`, each starting as soon as a slot frees: what a
 * plain local process pool achieves for the same commands on this machine,
 * with no coordinator, no worker agent, no network and no disk writes of its
 * own. Each command gets `TESTUDO_JUNIT` (a file in `dir`) as a worker's
 * process executor would give it. The makespan benchmark reports Testudo's
 * makespan against it, so its ratio to the lower bound can be told apart
 * from what the machine costs any runner (spawning a shell per task).
 */
export function runDirectPool(commands: readonly string[], order: readonly number[], slots: number, dir: string): Promise<DirectPoolResult> {
  if (!Number.isSafeInteger(slots) || slots < 1) throw new RangeError(`slots must be a positive integer, got ${slots}`);
  if (order.length !== commands.length || new Set(order).size !== order.length || order.some((i) => commands[i] === undefined)) {
    throw new RangeError('order must name every command exactly once');
  }
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let next = 0;
    let running = 0;
    let failed = 0;
    const startNext = (): void => {
      while (running < slots && next < order.length) {
        const index = order[next++]!;
        running++;
        const child = spawn('sh', ['-c', commands[index]!], { env: { ...process.env, TESTUDO_JUNIT: join(dir, `t${index + 1}.xml`) }, stdio: 'ignore' });
        child.once('error', reject);
        child.once('exit', (code) => {
          running--;
          if (code !== 0) failed++;
          if (next === order.length && running === 0) resolve({ makespanSec: (performance.now() - t0) / 1000, failed });
          else startNext();
        });
      }
    };
    if (order.length === 0) resolve({ makespanSec: 0, failed: 0 });
    else startNext();
  });
}
