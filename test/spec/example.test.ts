import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { expandSpecDetailed, loadSpec } from '../../src/spec/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLE = join(ROOT, 'examples/testudo.yaml');

describe('examples/testudo.yaml', () => {
  it('parses and expands into the documented tasks', async () => {
    const parsed = await loadSpec(EXAMPLE, { env: { GIT_COMMIT: 'abc123' } });
    expect(parsed.sourceDir).toBe(join(ROOT, 'examples'));
    expect(parsed.spec.setup.cacheKey).toBe('example-abc123');
    const { submission, warnings } = await expandSpecDetailed(parsed);
    expect(warnings).toEqual([]);
    const bySuite: Record<string, number> = {};
    for (const t of submission.tasks) bySuite[t.suite] = (bySuite[t.suite] ?? 0) + 1;
    expect(bySuite).toEqual({ unit: 3, integration: 2, flaky: 1, failing: 1, 'db-migration': 1, matrix: 2 });
    expect(submission.tasks).toHaveLength(10);

    const unit = submission.tasks.filter((t) => t.suite === 'unit');
    expect(unit.every((t) => t.splitByTimings && t.files.length === 4)).toBe(true);
    const integration = submission.tasks.filter((t) => t.suite === 'integration');
    expect(integration.map((t) => t.files.length)).toEqual([1, 1]);
    expect(submission.tasks.find((t) => t.suite === 'flaky')?.retries).toBe(2);
    expect(submission.tasks.find((t) => t.suite === 'db-migration')?.exclusive).toBe(true);
    const matrix = submission.tasks.filter((t) => t.suite === 'matrix');
    expect(matrix.map((t) => t.matrix)).toEqual([{ locale: 'en' }, { locale: 'fr' }]);
    // locale is not a worker label: the matrix cells run anywhere.
    expect(matrix.every((t) => Object.keys(t.requirements.labels).length === 0)).toBe(true);
  });

  it('runs a unit shard with plain node and writes JUnit XML', async () => {
    const parsed = await loadSpec(EXAMPLE, { env: {} });
    const { submission } = await expandSpecDetailed(parsed);
    const task = submission.tasks.find((t) => t.suite === 'unit');
    if (task === undefined) throw new Error('no unit task');
    const out = await mkdtemp(join(tmpdir(), 'testudo-example-'));
    try {
      const junit = join(out, 'report.xml');
      await promisify(execFile)('sh', ['-c', task.command], {
        cwd: resolve(parsed.sourceDir, task.cwd),
        env: { ...process.env, ...task.env, TESTUDO_JUNIT: junit, TESTUDO_FILES: task.files.join(' '), TESTUDO_ATTEMPT: '1' },
      });
      const xml = await readFile(junit, 'utf8');
      expect(xml).toContain('<testsuites>');
      expect(xml.match(/<testcase /g)?.length).toBe(22);
      expect(xml).not.toContain('<failure');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
