import { describe, expect, it } from 'vitest';
import { expandSpec, parseSpecText } from '../../src/spec/index.js';
import { parse, parseErrors, withTempDir } from './helpers.js';

// `shards: {count: N, by: queue}`: parsing, every bad shape, and expansion.

const suite = (shards: string, files = ', files: "test/*.js"'): string => `name: r\nsuites:\n  - {name: u, command: c${files}, shards: ${shards}}\n`;

describe('shards.by queue', () => {
  it('parses', () => {
    const { spec, warnings } = parse(suite('{count: 4, by: queue}'));
    expect(warnings).toEqual([]);
    expect(spec.suites[0]).toMatchObject({ shards: 4, shardBy: 'queue' });
  });

  it('defaults count to 1 with by alone', () => {
    expect(parse(suite('{by: queue}')).spec.suites[0]).toMatchObject({ shards: 1, shardBy: 'queue' });
  });

  it('names the three strategies, with a did-you-mean, for a near miss', () => {
    const err = parseErrors(suite('{count: 2, by: qeueu}'));
    expect(err.errors.map((e) => e.message)).toEqual([
      'testudo.yaml:3:70: suites[0].shards.by: expected "count", "timings" or "queue" (did you mean "queue"?), got "qeueu"',
    ]);
  });

  it('names the strategies without a suggestion for a far value', () => {
    const message = parseErrors(suite('{count: 2, by: fastest}')).errors[0]?.message ?? '';
    expect(message).toContain('suites[0].shards.by: expected "count", "timings" or "queue", got "fastest"');
    expect(message).not.toContain('did you mean');
  });

  it.each([
    ['a number', '{count: 2, by: 3}', 'suites[0].shards.by'],
    ['a list', '{count: 2, by: [queue]}', 'suites[0].shards.by'],
    ['null', '{count: 2, by: null}', 'suites[0].shards.by'],
    ['a zero count', '{count: 0, by: queue}', 'suites[0].shards.count'],
    ['a count over the limit', '{count: 1001, by: queue}', 'suites[0].shards.count'],
    ['an unknown key', '{count: 2, by: queue, size: 3}', 'suites[0].shards.size'],
  ])('rejects %s', (_what, shards, field) => {
    const err = parseErrors(suite(shards));
    expect(err.errors).toHaveLength(1);
    expect(err.errors[0]?.message).toContain(`${field}:`);
  });

  it('rejects queue mode on a suite without files', () => {
    const err = parseErrors(suite('{count: 2, by: queue}', ''));
    expect(err.errors.map((e) => e.message)).toEqual([
      expect.stringContaining('suites[0].shards.by: queue mode hands out files, and this suite has no `files`'),
    ]);
  });

  it('expands to N templates that carry the whole list and the queue flag', async () => {
    const files = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`test/f${i}.test.js`, '']));
    await withTempDir(files, async (dir) => {
      const run = await expandSpec(parseSpecText(suite('{count: 3, by: queue}'), { file: 'testudo.yaml', sourceDir: dir, env: {} }));
      expect(run.tasks).toHaveLength(3);
      for (const t of run.tasks) expect(t).toMatchObject({ queue: true, splitByTimings: false, files: Object.keys(files).sort() });
      expect(run.tasks.map((t) => t.shard)).toEqual([1, 2, 3]);
    });
  });

  it('clamps the lanes to the file count', async () => {
    await withTempDir({ 'test/a.test.js': '', 'test/b.test.js': '' }, async (dir) => {
      const warnings: string[] = [];
      const run = await expandSpec(parseSpecText(suite('{count: 5, by: queue}'), { file: 'testudo.yaml', sourceDir: dir, env: {} }), { onWarning: (w) => warnings.push(w) });
      expect(run.tasks).toHaveLength(2);
      expect(warnings[0]).toContain('5 shards but only 2 files match; using 2 shards');
    });
  });

  it('leaves other strategies without the flag', async () => {
    await withTempDir({ 'test/a.test.js': '' }, async (dir) => {
      const run = await expandSpec(parseSpecText(suite('{count: 1, by: timings}'), { file: 'testudo.yaml', sourceDir: dir, env: {} }));
      expect(run.tasks[0]?.queue).toBeUndefined();
    });
  });
});
