import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { LevelDbStorage } from '../../src/raft/index.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-inspect-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(args, (text) => (out += text));
  return { code, out };
}

describe('testudo raft inspect', () => {
  it('prints the Raft state of a real data directory', async () => {
    const dir = join(await tempDir(), 'n1');
    const storage = await LevelDbStorage.open(dir, { nodeId: 'n1', bootstrapConfState: { voters: ['n1', 'n2', 'n3'], learners: [] } });
    await storage.save({ hardState: { term: 2, vote: 'n2', commit: 3 }, entries: [{ term: 2, index: 4, type: 0, data: new Uint8Array([1, 2, 3]) }], snapshot: null });
    await storage.close();
    const { code, out } = await run(['raft', 'inspect', dir, '--node-id', 'n1', '--entries', '2']);
    expect(code).toBe(0);
    const report = JSON.parse(out) as { hardState: unknown; lastIndex: number; lastTerm: number; tail: { change?: string; bytes: number }[] };
    expect(report.hardState).toEqual({ term: 2, vote: 'n2', commit: 3 });
    expect(report.lastIndex).toBe(4);
    expect(report.lastTerm).toBe(2);
    expect(report.tail).toEqual([
      { index: 3, term: 1, type: 'conf-change', bytes: 4, change: 'add-voter n3' },
      { index: 4, term: 2, type: 'normal', bytes: 3 },
    ]);
  });

  it('refuses another node\'s directory and a missing one with clear errors, exit 1', async () => {
    const dir = join(await tempDir(), 'n1');
    await (await LevelDbStorage.open(dir, { nodeId: 'n1' })).close();
    const foreign = await run(['raft', 'inspect', dir, '--node-id', 'n2']);
    expect(foreign.code).toBe(1);
    expect(foreign.out).toMatch(/ForeignDataDirError: .*belongs to node n1, not n2/);
    const missing = await run(['raft', 'inspect', join(dir, 'nope'), '--node-id', 'n1']);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/ForeignDataDirError: .*holds no Testudo data/);
  });

  it('answers a usage error with exit 2', async () => {
    expect((await run(['raft', 'inspect'])).code).toBe(2);
    expect((await run(['raft', 'inspect', '/tmp/x', '--node-id', 'n1', '--entries', '-3'])).code).toBe(2);
    expect((await run(['no-such-command'])).code).toBe(2);
  });
});

describe('testudo as a process', () => {
  it('runs when invoked through a symlink, as npm installs bins', async () => {
    const link = join(await tempDir(), 'testudo.ts');
    await symlink(fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url)), link);
    const out = execFileSync(process.execPath, ['--import', 'tsx', link, '--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(out.trim()).toBe('0.1.0');
  });
});
