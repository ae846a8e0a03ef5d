import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createTracer, traceFilePath, traceFlushMs, traceNowMs, tracer } from '../../src/common/trace.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'testudo-trace-test-'));
  dirs.push(dir);
  return dir;
};

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('event trace (TESTUDO_TRACE_DIR)', () => {
  it('is off without the variable', () => {
    expect(process.env.TESTUDO_TRACE_DIR ?? '').toBe('');
    expect(tracer).toBeNull();
  });

  it('appends one line per event, stamped on the monotonic clock, when flushed', () => {
    const dir = tempDir();
    const t = createTracer(dir);
    const before = traceNowMs();
    t.event('raft.ready', 'entries=3-4 commit=2 messages=App>n2');
    t.event('worker.recv', 'orders=1');
    t.flush();
    const lines = readFileSync(traceFilePath(dir, process.pid), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2);
    const [at, event, ...detail] = lines[0]!.split(' ');
    expect(event).toBe('raft.ready');
    expect(detail.join(' ')).toBe('entries=3-4 commit=2 messages=App>n2');
    expect(Number(at)).toBeGreaterThanOrEqual(before);
    expect(Number(at)).toBeLessThanOrEqual(traceNowMs());
    expect(lines[1]).toMatch(/^\d+\.\d{3} worker\.recv orders=1$/);
  });

  it('reads one clock in every process: the machine\'s monotonic clock', () => {
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(Number(process.hrtime.bigint()) / 1e6))'], { encoding: 'utf8' });
    const before = traceNowMs();
    expect(Number(child.stdout)).toBeLessThanOrEqual(before);
    expect(before - Number(child.stdout)).toBeLessThan(10_000);
  });

  it('appends on its own within the flush interval', async () => {
    const dir = tempDir();
    createTracer(dir).event('leader.push', 'worker=w1 orders=2');
    await new Promise((resolve) => setTimeout(resolve, traceFlushMs * 3));
    expect(readFileSync(traceFilePath(dir, process.pid), 'utf8')).toMatch(/ leader\.push worker=w1 orders=2\n$/);
  });

  it('appends what it holds when the process exits, in a process started with the variable', () => {
    const dir = tempDir();
    const script = "const { tracer } = await import('./src/common/trace.ts'); tracer.event('raft.saved', 'ms=1.250 entries=1'); process.exit(0);";
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, env: { ...process.env, TESTUDO_TRACE_DIR: dir }, encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const files = readdirSync(dir);
    expect(files).toEqual([`trace-${child.pid}.log`]);
    expect(readFileSync(path.join(dir, files[0]!), 'utf8')).toMatch(/^\d+\.\d{3} raft\.saved ms=1\.250 entries=1\n$/);
  });
});
