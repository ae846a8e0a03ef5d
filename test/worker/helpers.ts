import { readFileSync } from 'node:fs';
import { noopTemplate } from '../../src/bench/schedule.js';
import type { TaskTemplate } from '../../src/model/types.js';

export function template(overrides: Partial<TaskTemplate> = {}): TaskTemplate {
  return {
    ...noopTemplate(),
    suite: 'unit',
    timeoutSec: 10,
    ...overrides,
  };
}

/** Whether a process is gone (no such pid, or a zombie nobody has reaped yet). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

export async function waitUntil(check: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

/** A shell snippet writing a JUnit report to $TESTUDO_JUNIT. */
export function writeReport(cases: string): string {
  return `printf '%s' '<testsuite name="s">${cases}</testsuite>' > "$TESTUDO_JUNIT"`;
}
