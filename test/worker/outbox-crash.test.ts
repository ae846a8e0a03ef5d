import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/worker/outbox.js';
import { outboxWriterConcurrency, outboxWriterResult } from './fixtures/outbox-writer-data.js';

const writerPath = fileURLToPath(new URL('./fixtures/outbox-writer.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** Bound on waiting for the writer's acks; it is killed then, and the test fails on too few. */
const acksWaitMs = 40_000;

const tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-outbox-crash-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

interface WriterLog {
  readonly acked: readonly string[];
  /** Ids whose confirm was issued (resolved or not). */
  readonly confirmed: ReadonlySet<string>;
}

/** Runs the writer on `dir`, SIGKILLs it after `putsBeforeKill` acked puts, and returns what it acknowledged. */
async function runAndKill(dir: string, putsBeforeKill: number): Promise<WriterLog> {
  const child = spawn(process.execPath, ['--import', 'tsx', writerPath, dir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  const timer = setTimeout(() => child.kill('SIGKILL'), acksWaitMs);
  const acked: string[] = [];
  const confirmed = new Set<string>();
  try {
    for await (const line of createInterface({ input: child.stdout! })) {
      const [kind, ids] = line.split(' ');
      if (kind === 'put' && ids !== undefined) acked.push(ids);
      else if (kind === 'confirm' && ids !== undefined) for (const id of ids.split(',')) confirmed.add(id);
      else throw new Error(`writer printed ${JSON.stringify(line)}`);
      if (acked.length === putsBeforeKill) child.kill('SIGKILL');
    }
  } finally {
    clearTimeout(timer);
  }
  expect(await exited, `writer stderr: ${stderr}`).toBe('SIGKILL');
  expect(acked.length, `writer stderr: ${stderr}`).toBeGreaterThanOrEqual(putsBeforeKill);
  return { acked, confirmed };
}

describe('Outbox crash safety', () => {
  it('keeps every acknowledged, unconfirmed result after SIGKILL of the writer', { timeout: 90_000 }, async () => {
    for (const putsBeforeKill of [150, 450]) {
      const dir = path.join(tmp, `kill-${putsBeforeKill}`);
      const { acked, confirmed } = await runAndKill(dir, putsBeforeKill);
      const outbox = await Outbox.open(dir);
      try {
        expect(outbox.problems).toEqual([]);
        const held = new Set(outbox.attemptIds());
        const lost = acked.filter((id) => !confirmed.has(id) && !held.has(id));
        expect(lost, `acknowledged results missing after the kill at ${putsBeforeKill}`).toEqual([]);
        // Nothing but what the writer put, each exactly as put; at most the puts in flight beyond the acked ones.
        for (const result of outbox.pending()) {
          expect(result).toEqual(outboxWriterResult(result.attemptId));
          expect(Number(result.attemptId.slice(1))).toBeLessThan(acked.length + outboxWriterConcurrency);
        }
        expect(held.size).toBeGreaterThan(0);
      } finally {
        await outbox.close();
      }
    }
  });
});
