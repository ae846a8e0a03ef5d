import { describe, expect, it } from 'vitest';
import {
  SpecValidationError,
  expandSpec,
  expandSpecDetailed,
  matrixCells,
  parseSpecText,
  splitIntoShards,
} from '../../src/spec/index.js';
import { parse, withTempDir } from './helpers.js';

function files(n: number, dir = 'test'): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 1; i <= n; i++) out[`${dir}/f${String(i).padStart(2, '0')}.test.js`] = '';
  return out;
}

function parseIn(dir: string, text: string) {
  return parseSpecText(text, { file: 'testudo.yaml', sourceDir: dir, env: {} });
}

describe('splitIntoShards', () => {
  it('deals files round-robin so shards differ by at most one file', () => {
    const list = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    expect(splitIntoShards(list, 3)).toEqual([
      ['a', 'd', 'g'],
      ['b', 'e'],
      ['c', 'f'],
    ]);
    for (let n = 1; n <= 9; n++) {
      const sizes = splitIntoShards(list, n).map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      expect(splitIntoShards(list, n).flat().sort()).toEqual(list);
    }
    expect(splitIntoShards(['a'], 2)).toEqual([['a'], []]);
    expect(() => splitIntoShards(list, 0)).toThrow(RangeError);
  });
});

describe('matrixCells', () => {
  it('is the cartesian product, first axis outermost', () => {
    expect(
      matrixCells([
        { name: 'os', values: ['linux', 'darwin'] },
        { name: 'node', values: ['20', '22'] },
      ]),
    ).toEqual([
      { os: 'linux', node: '20' },
      { os: 'linux', node: '22' },
      { os: 'darwin', node: '20' },
      { os: 'darwin', node: '22' },
    ]);
    expect(matrixCells([])).toEqual([{}]);
  });
});

describe('expandSpec', () => {
  it('splits files by count into per-shard subsets', async () => {
    await withTempDir({ ...files(5), 'test/helper.js': '', 'test/node_modules/x/y.test.js': '' }, async (dir) => {
      const run = await expandSpec(
        parseIn(dir, `name: r\nenv: {A: run, B: run}\nsuites:\n  - {name: u, command: c, files: "test/**/*.test.js", shards: 2, env: {B: suite}}\n`),
      );
      expect(run).toMatchObject({ name: 'r', sourceDir: dir, setup: [] });
      expect(run.tasks.map((t) => [t.shard, t.shardCount, t.files, t.splitByTimings])).toEqual([
        [1, 2, ['test/f01.test.js', 'test/f03.test.js', 'test/f05.test.js'], false],
        [2, 2, ['test/f02.test.js', 'test/f04.test.js'], false],
      ]);
      expect(run.tasks[0]).toMatchObject({
        suite: 'u',
        command: 'c',
        cwd: '.',
        matrix: {},
        env: { A: 'run', B: 'suite' },
        requirements: { labels: {}, cpus: 0, memoryMb: 0, tools: [] },
        priority: 0,
        timeoutSec: 600,
        retries: 0,
        exclusive: false,
      });
    });
  });

  it('gives every shard the whole list with by: timings', async () => {
    await withTempDir(files(4), async (dir) => {
      const run = await expandSpec(parseIn(dir, `name: r\nsuites:\n  - {name: u, command: c, files: "test/*.js", shards: {count: 3, by: timings}}\n`));
      expect(run.tasks).toHaveLength(3);
      for (const t of run.tasks) {
        expect(t.splitByTimings).toBe(true);
        expect(t.files).toHaveLength(4);
      }
    });
  });

  it('resolves globs relative to cwd, sorted, with exclusions', async () => {
    await withTempDir({ ...files(3, 'pkg/a/test'), 'pkg/a/test/skip/x.test.js': '', 'pkg/a/test/B.test.js': '' }, async (dir) => {
      const run = await expandSpec(
        parseIn(dir, `name: r\nsuites:\n  - {name: u, command: c, cwd: pkg/a, files: ["test/**/*.test.js", "!test/skip/**"]}\n`),
      );
      expect(run.tasks[0]?.cwd).toBe('pkg/a');
      expect(run.tasks[0]?.files).toEqual(['test/B.test.js', 'test/f01.test.js', 'test/f02.test.js', 'test/f03.test.js']);
    });
  });

  it('clamps shards to the file count with a warning', async () => {
    await withTempDir(files(2), async (dir) => {
      const parsed = parseIn(dir, `name: r\nsuites:\n  - name: u\n    command: c\n    files: "test/*.js"\n    shards: 5\n`);
      const { submission, warnings } = await expandSpecDetailed(parsed);
      expect(submission.tasks.map((t) => [t.shard, t.shardCount, t.files])).toEqual([
        [1, 2, ['test/f01.test.js']],
        [2, 2, ['test/f02.test.js']],
      ]);
      expect(warnings).toEqual(['testudo.yaml:6:13: suites[0].shards: 5 shards but only 2 files match; using 2 shards']);
      const seen: string[] = [];
      await expandSpec(parsed, { onWarning: (w) => seen.push(w) });
      expect(seen).toEqual(warnings);
    });
  });

  it('reports a glob matching nothing, naming the glob and the directory', async () => {
    await withTempDir(files(1), async (dir) => {
      const parsed = parseIn(dir, `name: r\nsuites:\n  - name: u\n    command: c\n    files: ["test/*.js", "spec/**/*.js"]\n  - {name: v, command: c, cwd: missing, files: "*.js"}\n`);
      const error = await expandSpec(parsed).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpecValidationError);
      expect((error as SpecValidationError).errors.map((e) => e.message)).toEqual([
        `testudo.yaml:5:26: suites[0].files[1]: glob "spec/**/*.js" matches no files in ${dir}`,
        `testudo.yaml:6:5: suites[1].cwd: directory ${dir}/missing does not exist (cwd "missing" resolved against ${dir})`,
      ]);
    });
  });

  it('gives suites without files N identical shards', async () => {
    const run = await expandSpec(parse(`name: r\nsuites:\n  - {name: u, command: 'x $TESTUDO_SHARD', shards: 3}\n`));
    expect(run.tasks.map((t) => [t.shard, t.shardCount, t.files, t.splitByTimings])).toEqual([
      [1, 3, [], false],
      [2, 3, [], false],
      [3, 3, [], false],
    ]);
  });

  it('expands the matrix in declaration order, cells before shards, pinning label keys', async () => {
    const run = await expandSpec(
      parse(`name: r
suites:
  - name: a
    command: 'x $TESTUDO_SHARD'
    shards: 2
    requirements: { os: linux, cpus: 2 }
    matrix: { region: [eu-west-1, us-east-1], locale: [en, fr] }
  - name: b
    command: y
    requirements: { browser: firefox }
    matrix: { browser: [chromium, webkit] }
`),
    );
    expect(run.tasks.map((t) => `${t.suite} ${JSON.stringify(t.matrix)} ${t.shard}/${t.shardCount}`)).toEqual([
      'a {"region":"eu-west-1","locale":"en"} 1/2',
      'a {"region":"eu-west-1","locale":"en"} 2/2',
      'a {"region":"eu-west-1","locale":"fr"} 1/2',
      'a {"region":"eu-west-1","locale":"fr"} 2/2',
      'a {"region":"us-east-1","locale":"en"} 1/2',
      'a {"region":"us-east-1","locale":"en"} 2/2',
      'a {"region":"us-east-1","locale":"fr"} 1/2',
      'a {"region":"us-east-1","locale":"fr"} 2/2',
      'b {"browser":"chromium"} 1/1',
      'b {"browser":"webkit"} 1/1',
    ]);
    // region is a label key: each cell is pinned to it; locale is not a label.
    expect(run.tasks[0]?.requirements).toEqual({ labels: { os: 'linux', region: 'eu-west-1' }, cpus: 2, memoryMb: 0, tools: [] });
    expect(run.tasks[4]?.requirements.labels).toEqual({ os: 'linux', region: 'us-east-1' });
    // Matrix values are not put into env (the worker adds them).
    expect(run.tasks[0]?.env).toEqual({});
    // An explicit requirement wins over the matrix value.
    expect(run.tasks[8]?.requirements.labels).toEqual({ browser: 'firefox' });
    expect(run.tasks[9]?.requirements.labels).toEqual({ browser: 'firefox' });
  });

  it('passes setup commands and the cache key through', async () => {
    const run = await expandSpec(
      parse(`name: r\nsetup: {commands: ["npm ci"], cacheKey: "c-\${GIT_COMMIT:-dev}"}\nsuites: [{name: a, command: b}]\n`, { GIT_COMMIT: 'f00' }),
    );
    expect(run.setup).toEqual(['npm ci']);
    expect(run.setupCacheKey).toBe('c-f00');
  });

  it('rejects more than 50,000 expanded tasks', async () => {
    await withTempDir(files(1000), async (dir) => {
      // 51 matrix cells × 1000 shards of 1000 files: only known after globbing.
      const values = Array.from({ length: 51 }, (_, i) => i).join(', ');
      const parsed = parseIn(dir, `name: r\nsuites:\n  - {name: a, command: c, files: "test/*.js", shards: 1000, matrix: {n: [${values}]}}\n`);
      const error = await expandSpec(parsed).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SpecValidationError);
      expect((error as SpecValidationError).errors[0]?.message).toBe(
        'testudo.yaml:3:3: suites: expected at most 50000 tasks in total, got 51000 tasks',
      );
    });
  });
});
