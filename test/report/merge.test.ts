import { describe, expect, it } from 'vitest';
import type {
  AttemptView,
  RunView,
} from '../../src/model/types.js';
import { attempt, runView, task, tc } from './fixtures.js';
import { isCountedAttempt, isGenericClassname, mergeRun, suiteLabel, type MergedTest } from '../../src/report/merge.js';


function allTests(run: RunView): MergedTest[] {
  return mergeRun(run).suites.flatMap((s) => s.tests);
}

function find(run: RunView, id: string): MergedTest {
  const t = allTests(run).find((x) => x.id === id);
  if (t === undefined) throw new Error(`no test ${id}`);
  return t;
}

describe('mergeRun', () => {
  it('counts only passed/failed/infra-error attempts with a result', () => {
    const lost = attempt(1, 'lost', [tc('C', 'x', 'failed')], { reason: 'worker lost' });
    const cancelled = attempt(2, 'cancelled', [tc('C', 'y', 'failed')]);
    const withoutResult = attempt(3, 'failed', [], { noResult: true });
    expect(isCountedAttempt(lost)).toBe(false);
    expect(isCountedAttempt(cancelled)).toBe(false);
    expect(isCountedAttempt(withoutResult)).toBe(false);
    expect(isCountedAttempt(attempt(4, 'infra-error', []))).toBe(true);
    expect(isCountedAttempt(attempt(5, 'running', []))).toBe(false);
  });

  it('ignores the tests of lost attempts and of superseded ones with late results', () => {
    // Attempt 1 was lost (its worker reappeared with a failing report: the
    // fixture gives it a result to prove it is not read), attempt 2 passed.
    const lost: AttemptView = { ...attempt(1, 'lost', [tc('C', 'a', 'failed'), tc('C', 'ghost')]), lateResults: 1 };
    const run = runView([task('t1', [lost, attempt(2, 'passed', [tc('C', 'a'), tc('C', 'b')])])]);
    const tests = allTests(run);
    expect(tests.map((t) => t.id)).toEqual(['C::a', 'C::b']);
    const a = find(run, 'C::a');
    expect(a.status).toBe('passed');
    expect(a.flaky).toBe(false);
    expect(a.runs).toHaveLength(1);
    expect(mergeRun(run).counts).toMatchObject({ tests: 2, passed: 2, failed: 0, errors: 0, flaky: 0 });
  });

  it('marks fail-then-pass as flaky and counts it as passed', () => {
    const run = runView([
      task('t1', [
        attempt(1, 'failed', [tc('C', 'a', 'failed', { timeSec: 1 }), tc('C', 'b')], { workerId: 'w1' }),
        attempt(2, 'passed', [tc('C', 'a', 'passed', { timeSec: 2 }), tc('C', 'b')], { workerId: 'w2' }),
      ]),
    ]);
    const a = find(run, 'C::a');
    expect(a.status).toBe('passed');
    expect(a.flaky).toBe(true);
    expect(a.timeSec).toBe(2);
    expect(a.runs.map((r) => [r.status, r.workerId, r.attemptNumber])).toEqual([
      ['failed', 'w1', 1],
      ['passed', 'w2', 2],
    ]);
    expect(a.runs[0]?.details).toBe('stack of a');
    expect(find(run, 'C::b').flaky).toBe(false);
    expect(mergeRun(run).counts).toMatchObject({ tests: 2, passed: 2, flaky: 1, failed: 0 });
  });

  it('keeps a test failing in every attempt as failed with all its runs', () => {
    const run = runView([
      task('t1', [
        attempt(1, 'failed', [tc('C', 'a', 'failed', { message: 'first' })]),
        attempt(2, 'failed', [tc('C', 'a', 'failed', { message: 'second' })]),
        attempt(3, 'failed', [tc('C', 'a', 'error', { message: 'third' })]),
      ]),
    ]);
    const a = find(run, 'C::a');
    expect(a.status).toBe('error');
    expect(a.flaky).toBe(false);
    expect(a.runs.map((r) => r.message)).toEqual(['first', 'second', 'third']);
    expect(mergeRun(run).counts).toMatchObject({ failed: 0, errors: 1 });
  });

  it('takes the final status from the last counted attempt containing the test', () => {
    // Attempt 2 crashed before reaching `a`: its final run is attempt 1's.
    const run = runView([
      task('t1', [
        attempt(1, 'failed', [tc('C', 'a', 'failed'), tc('C', 'b', 'failed')]),
        attempt(2, 'infra-error', [tc('C', 'b')]),
        attempt(3, 'lost', [tc('C', 'a')]),
      ], { state: 'failed-infra', reason: 'retries exhausted' }),
    ]);
    expect(find(run, 'C::a').status).toBe('failed');
    expect(find(run, 'C::b')).toMatchObject({ status: 'passed', flaky: true });
    // A failing test exists, so no synthetic case.
    expect(allTests(run).some((t) => t.synthetic)).toBe(false);
  });

  it('keeps identical test names in different suites and matrix cells apart', () => {
    const run = runView([
      task('t1', [attempt(1, 'passed', [tc('C', 'a')])], { suite: 'unit' }),
      task('t2', [attempt(1, 'failed', [tc('C', 'a', 'failed')])], { suite: 'e2e', matrix: { locale: 'fr', browser: 'ff' } }),
      task('t3', [attempt(1, 'passed', [tc('C', 'a')])], { suite: 'e2e', matrix: { locale: 'en', browser: 'ff' } }),
    ]);
    const merged = mergeRun(run);
    expect(merged.suites.map((s) => s.name)).toEqual(['unit', 'e2e[browser=ff,locale=fr]', 'e2e[browser=ff,locale=en]']);
    expect(merged.suites.map((s) => s.counts.failed)).toEqual([0, 1, 0]);
    expect(suiteLabel({ suite: 'x', matrix: {} })).toBe('x');
  });

  it('groups shards of one suite and pairs repeated names by occurrence', () => {
    const run = runView([
      task('t1', [attempt(1, 'failed', [tc('C', 'p', 'failed'), tc('C', 'p')]), attempt(2, 'passed', [tc('C', 'p'), tc('C', 'p')])], { shard: 1, shardCount: 2 }),
      task('t2', [attempt(1, 'passed', [tc('D', 'q', 'skipped')])], { shard: 2, shardCount: 2 }),
    ]);
    const merged = mergeRun(run);
    expect(merged.suites).toHaveLength(1);
    expect(merged.suites[0]?.taskIds).toEqual(['t1', 't2']);
    const ps = allTests(run).filter((t) => t.id === 'C::p');
    expect(ps.map((p) => p.flaky)).toEqual([true, false]);
    expect(merged.counts).toMatchObject({ tests: 3, passed: 2, skipped: 1, flaky: 1 });
  });

  it('turns a failed-infra task without tests into one synthetic error case', () => {
    const run = runView([
      task('t9', [
        attempt(1, 'infra-error', [], { workerId: 'w1', infraClass: 'out-of-memory', resultReason: 'OOM killed', outputTail: 'Killed' }),
        attempt(2, 'lost', [], { workerId: 'w2', reason: 'worker w2 lost' }),
      ], { suite: 'integration', shard: 2, shardCount: 3, reason: 'retries exhausted after infrastructure failures' }),
    ]);
    const tests = allTests(run);
    expect(tests).toHaveLength(1);
    const s = tests[0];
    expect(s).toMatchObject({
      classname: 'testudo.integration',
      name: 't9 (shard 2/3)',
      status: 'error',
      synthetic: true,
      suite: 'integration',
    });
    expect(s?.runs[0]?.message).toBe('retries exhausted after infrastructure failures');
    expect(s?.runs[0]?.details).toContain('attempt 1 on w1: infra-error [out-of-memory]');
    expect(s?.runs[0]?.details).toContain('OOM killed');
    expect(s?.runs[0]?.details).toContain('attempt 2 on w2: lost: worker w2 lost');
    expect(s?.runs[0]?.details).toContain('Killed');
    expect(mergeRun(run).counts).toMatchObject({ tests: 1, errors: 1 });
  });

  it('turns a cancelled task that never ran into a synthetic error case', () => {
    const run = runView([task('t5', [], { state: 'cancelled', reason: 'run cancelled by alice' })], { state: 'cancelled' });
    const [s] = allTests(run);
    expect(s).toMatchObject({ status: 'error', synthetic: true, name: 't5 (shard 1/1)' });
    expect(s?.runs[0]?.message).toBe('run cancelled by alice');
    expect(s?.runs[0]?.type).toBe('testudo.TaskCancelled');
  });

  it('adds a synthetic case for a failed task whose tests all passed (non-zero exit)', () => {
    const run = runView([task('t1', [attempt(1, 'failed', [tc('C', 'a')], { resultReason: 'exit code 2 without failing tests' })])]);
    const tests = allTests(run);
    expect(tests.map((t) => [t.id, t.status])).toEqual([
      ['C::a', 'passed'],
      ['testudo.unit::t1 (shard 1/1)', 'error'],
    ]);
    expect(tests[1]?.runs[0]?.message).toBe('exit code 2 without failing tests');
  });

  it('does not add a synthetic case for a passed task', () => {
    const run = runView([task('t1', [attempt(1, 'passed', [])])]);
    expect(allTests(run)).toHaveLength(0);
  });
});

describe('classname policy', () => {
  const view = runView([
    task('t1', [attempt(1, 'passed', [tc('test', 'a', 'passed', { file: 'x.test.js' }), tc('test', 'b'), tc('pkg.C', 'c'), tc('d', 'd')])], { files: ['only.test.js'] }),
    task('t2', [attempt(1, 'passed', [tc('', 'e')])], { suite: 'e2e', matrix: { locale: 'fr' }, files: ['one.js', 'two.js'] }),
  ]);
  const classes = (policy?: 'auto' | 'file' | 'suite' | 'runner'): Record<string, string> =>
    Object.fromEntries(mergeRun(view, policy === undefined ? {} : { classname: policy }).suites.flatMap((s) => s.tests).map((t) => [t.name, t.classname]));

  it('auto: a generic class becomes the file, else the suite label; a real class stays', () => {
    expect(classes()).toEqual({ a: 'x.test.js', b: 'only.test.js', c: 'pkg.C', d: 'only.test.js', e: 'e2e[locale=fr]' });
    expect(isGenericClassname('test', 'x')).toBe(true);
    expect(isGenericClassname('x', 'x')).toBe(true);
    expect(isGenericClassname('pkg.C', 'x')).toBe(false);
  });

  it('file, suite and runner', () => {
    expect(classes('file')).toEqual({ a: 'x.test.js', b: 'only.test.js', c: 'only.test.js', d: 'only.test.js', e: 'e2e[locale=fr]' });
    expect(classes('suite')).toEqual({ a: 'unit', b: 'unit', c: 'unit', d: 'unit', e: 'e2e[locale=fr]' });
    expect(classes('runner')).toEqual({ a: 'test', b: 'test', c: 'pkg.C', d: 'd', e: '' });
  });

  it("keeps the runner's class in the id, so histories and comparisons do not move", () => {
    const ids = mergeRun(view).suites.flatMap((s) => s.tests).map((t) => t.id);
    expect(ids).toEqual(['test::a', 'test::b', 'pkg.C::c', 'd::d', '::e']);
    expect(() => mergeRun(view, { classname: 'bogus' as 'auto' })).toThrow(/classname policy/);
  });
});
