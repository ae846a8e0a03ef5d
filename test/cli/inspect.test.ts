import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { EntryType, LevelDbStorage, type Entry } from '../../src/raft/index.js';

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
    expect(foreign.out).toMatch(/^testudo: data directory .*belongs to node n1, not n2\n$/);
    const missing = await run(['raft', 'inspect', join(dir, 'nope'), '--node-id', 'n1']);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/^testudo: .*holds no Testudo data/);
  });

  it('answers a usage error with exit 2', async () => {
    expect((await run(['raft', 'inspect'])).code).toBe(2);
    expect((await run(['raft', 'inspect', '/tmp/x', '--node-id', 'n1', '--entries', '-3'])).code).toBe(2);
    expect((await run(['no-such-command'])).code).toBe(2);
  });
});

/** sha256 over every file's relative name and content, in name order (subdirectories included). */
async function treeDigest(root: string): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    for (const entry of (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const name = join(rel, entry.name);
      if (entry.isDirectory()) await walk(name);
      else hash.update(`${name}\0${(await stat(join(root, name))).size}\0`).update(await readFile(join(root, name)));
    }
  };
  await walk('');
  return hash.digest('hex');
}

/** A closed directory of node n1 whose entries are in LevelDB's log file (term 3, vote n2, last index 300). */
async function written(): Promise<string> {
  const dir = join(await tempDir(), 'raft');
  const storage = await LevelDbStorage.open(dir, { nodeId: 'n1', bootstrapConfState: { voters: ['n1', 'n2', 'n3'], learners: [] } });
  const entries: Entry[] = [];
  for (let index = 4; index <= 300; index++) entries.push({ index, term: 3, type: EntryType.Normal, data: new Uint8Array(500).fill(index % 256) });
  for (let i = 0; i < entries.length; i += 50) await storage.save({ hardState: { term: 3, vote: 'n2', commit: 3 }, entries: entries.slice(i, i + 50), snapshot: null });
  await storage.close();
  return dir;
}

async function truncateLevelDbLog(dir: string): Promise<void> {
  const logs = (await readdir(dir)).filter((name) => name.endsWith('.log'));
  expect(logs).toHaveLength(1);
  const path = join(dir, logs[0]!);
  await truncate(path, Math.floor((await stat(path)).size / 2));
}

describe('testudo raft inspect never changes the directory', () => {
  /** Runs inspect with a private temporary directory, so the copy it makes (and removes) can be seen. */
  async function inspect(dir: string): Promise<{ code: number; out: string; leftInTmp: string[] }> {
    const privateTmp = join(await tempDir(), 'tmp');
    await mkdir(privateTmp);
    const saved = process.env['TMPDIR'];
    process.env['TMPDIR'] = privateTmp;
    try {
      return { ...(await run(['raft', 'inspect', dir, '--node-id', 'n1', '--entries', '1'])), leftInTmp: await readdir(privateTmp) };
    } finally {
      if (saved === undefined) delete process.env['TMPDIR'];
      else process.env['TMPDIR'] = saved;
    }
  }

  it('leaves a healthy directory byte for byte as it was, and its copy removed', async () => {
    const dir = await written();
    const before = await treeDigest(dir);
    const { code, out, leftInTmp } = await inspect(dir);
    expect(code).toBe(0);
    const report = JSON.parse(out) as { dir: string; lastIndex: number; durable: unknown };
    expect(report.dir).toBe(dir);
    expect(report.lastIndex).toBe(300);
    expect(report.durable).toEqual({ record: { term: 3, vote: 'n2', lastIndex: 300, lastTerm: 3 }, problems: [] });
    expect(await treeDigest(dir)).toBe(before);
    expect(leftInTmp).toEqual([]);
  });

  it('shows a damaged tail without repairing it: report printed, exit 3, directory unchanged', async () => {
    const dir = await written();
    await truncateLevelDbLog(dir);
    const before = await treeDigest(dir);
    const first = await inspect(dir);
    expect(first.code).toBe(3);
    const report = JSON.parse(first.out) as { lastIndex: number; durable: { problems: string[] } };
    expect(report.lastIndex).toBeLessThan(300);
    expect(report.durable.problems.join('\n')).toMatch(/index 300 was acknowledged as durable/);
    expect(await treeDigest(dir)).toBe(before);
    // Inspecting twice shows the same damage: nothing was dropped by the first look.
    expect((await inspect(dir)).out).toBe(first.out);
    expect(await treeDigest(dir)).toBe(before);
    expect(first.leftInTmp).toEqual([]);
  });

  it('the digest catches a reader that opens the directory itself (the old inspect)', async () => {
    const dir = await written();
    await truncateLevelDbLog(dir);
    const before = await treeDigest(dir);
    // Opening LevelDB in place replays and rewrites its log: the check this suite relies on sees it.
    await (await LevelDbStorage.open(dir, { nodeId: 'n1', createIfMissing: false, durableCheck: 'report' })).close();
    expect(await treeDigest(dir)).not.toBe(before);
  });

  it('shows a deleted LevelDB log file (an empty database) as rolled back, exit 3, directory unchanged', async () => {
    const dir = await written();
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.log'))) await rm(join(dir, name));
    const before = await treeDigest(dir);
    const { code, out } = await inspect(dir);
    expect(code).toBe(3);
    expect(out).toMatch(/testudo: data directory .* the LevelDB database is empty .* index 300 was acknowledged/);
    expect(out).toContain(`data directory ${dir} `);
    expect(await treeDigest(dir)).toBe(before);
  });

  it('refuses a directory a running node holds open, without copying it', async () => {
    const dir = await written();
    const storage = await LevelDbStorage.open(dir, { nodeId: 'n1' });
    try {
      const { code, out, leftInTmp } = await inspect(dir);
      expect(code).toBe(1);
      expect(out).toMatch(/^testudo: data directory .* is in use by another process\n$/);
      expect(leftInTmp).toEqual([]);
    } finally {
      await storage.close();
    }
  });

  it('names the directory given, not its copy, in a refusal', async () => {
    const dir = await written();
    const { code, out } = await run(['raft', 'inspect', dir, '--node-id', 'n2']);
    expect(code).toBe(1);
    expect(out).toContain(`data directory ${dir}: belongs to node n1, not n2`);
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
