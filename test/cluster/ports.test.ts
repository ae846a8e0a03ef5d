/**
 * Port reservations hold across processes: a port another live process was
 * handed out is never handed out here, even while nothing listens on it (a
 * disabled fault proxy, a coordinator between stop and start), and the
 * reservation of a process that died is taken over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canBind, freePort, freePortRange, reserve } from '../../src/cluster/ports.js';

let dir: string;
const previousDir = process.env['TESTUDO_PORTS_DIR'];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'testudo-ports-'));
  process.env['TESTUDO_PORTS_DIR'] = dir;
});

afterAll(async () => {
  if (previousDir === undefined) delete process.env['TESTUDO_PORTS_DIR'];
  else process.env['TESTUDO_PORTS_DIR'] = previousDir;
  await rm(dir, { recursive: true, force: true });
});

/** A process that reserves `port` through the same module and stays alive until killed. */
async function holder(port: number): Promise<ChildProcess> {
  const url = new URL('../../src/cluster/ports.ts', import.meta.url).href;
  const code = `const m = await import(${JSON.stringify(url)}); console.log(m.reserve(${JSON.stringify(dir)}, ${port})); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  expect(line.toString().trim()).toBe('true');
  return child;
}

describe('port reservations', () => {
  it('a port freePort hands out is in range, bindable and reserved under this pid', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThanOrEqual(freePortRange.min);
    expect(port).toBeLessThanOrEqual(freePortRange.max);
    expect(await canBind(port)).toBe(true);
    expect(await readFile(join(dir, String(port)), 'utf8')).toBe(String(process.pid));
    expect(reserve(dir, port)).toBe(false); // never twice in one process
  });

  it('a port reserved by a live process is refused here although nothing listens on it; taken over once that process is killed', async () => {
    const port = 21_000 + (process.pid % 1_000);
    const child = await holder(port);
    try {
      expect(await canBind(port)).toBe(true);
      expect(reserve(dir, port)).toBe(false);
    } finally {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    expect(reserve(dir, port)).toBe(true);
    expect(await readFile(join(dir, String(port)), 'utf8')).toBe(String(process.pid));
  }, 30_000);
});
