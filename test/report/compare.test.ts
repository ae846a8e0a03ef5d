import { describe, expect, it } from 'vitest';
import { compareRuns, durationChangesMax, formatComparison } from '../../src/report/compare.js';
import { attempt, runView, task, tc } from './fixtures.js';

const base = runView(
  [
    task('a1', [attempt(1, 'passed', [tc('C', 'steady', 'passed', { timeSec: 1 }), tc('C', 'breaks', 'passed', { timeSec: 0.2 }), tc('C', 'heals', 'failed'), tc('C', 'gone'), tc('C', 'slows', 'passed', { timeSec: 0.5 })])]),
    task('a2', [attempt(1, 'infra-error', [])], { suite: 'e2e' }),
  ],
  { runId: 'r-base' },
);
const head = runView(
  [
    task('b1', [
      attempt(1, 'failed', [
        tc('C', 'steady', 'passed', { timeSec: 1.0004 }),
        tc('C', 'breaks', 'failed', { message: 'now\nbroken', timeSec: 0.3 }),
        tc('C', 'heals', 'passed'),
        tc('C', 'fresh', 'error'),
        tc('C', 'slows', 'passed', { timeSec: 2.5 }),
      ]),
    ]),
    task('b2', [attempt(1, 'infra-error', [])], { suite: 'e2e' }),
  ],
  { runId: 'r-head' },
);

describe('compareRuns', () => {
  it('finds the newly failing (new tests included), the newly passing and the largest duration changes', () => {
    const c = compareRuns(base, head);
    expect(c.base).toEqual({ runId: 'r-base', name: 'nightly', state: 'failed', tests: 5 });
    expect(c.newlyFailing).toEqual([
      { suite: 'unit', id: 'C::breaks', label: 'C::breaks', before: 'passed', after: 'failed', message: 'now\nbroken' },
      { suite: 'unit', id: 'C::fresh', label: 'C::fresh', before: null, after: 'error', message: 'fresh error' },
    ]);
    expect(c.newlyPassing).toEqual([{ suite: 'unit', id: 'C::heals', label: 'C::heals', before: 'failed', after: 'passed', message: '' }]);
    // steady's 0.4 ms change is noise; heals did not change; a test that now fails is listed too.
    expect(c.durationChanges.map((d) => [d.id, d.deltaSec, d.ratio])).toEqual([
      ['C::slows', 2, 5],
      ['C::breaks', 0.1, 1.5],
    ]);
    // Synthetic cases (one per task of a run, named by the task) are never matched across runs.
    expect(c).toMatchObject({ inBoth: 4, onlyInBase: 1, onlyInHead: 1 });
  });

  it('bounds the duration list and refuses a bound out of range', () => {
    expect(compareRuns(base, head, { durationChanges: 1 }).durationChanges).toHaveLength(1);
    expect(compareRuns(base, head, { durationChanges: 0 }).durationChanges).toEqual([]);
    expect(() => compareRuns(base, head, { durationChanges: durationChangesMax + 1 })).toThrow(RangeError);
  });

  it("labels tests with the reports' class and matches them by the runner's", () => {
    const fileRun = (status: 'passed' | 'failed', runId: string) =>
      runView([task('t', [attempt(1, status === 'passed' ? 'passed' : 'failed', [tc('test', 'adds', status, { file: 'cart.test.js' })])])], { runId });
    const c = compareRuns(fileRun('passed', 'r1'), fileRun('failed', 'r2'));
    expect(c.newlyFailing.map((f) => [f.id, f.label])).toEqual([['test::adds', 'cart.test.js::adds']]);
  });

  it('formats one line per change', () => {
    const text = formatComparison(compareRuns(base, head));
    expect(text).toContain('newly failing (2):\n  unit  C::breaks  (passed -> failed): now broken\n  unit  C::fresh  (new -> error): fresh error\n');
    expect(text).toContain('newly passing (1):\n  unit  C::heals  (failed -> passed)\n');
    expect(text).toContain('  unit  C::slows  0.50s -> 2.50s  (+2.00s, x5.00)');
    expect(formatComparison(compareRuns(base, base))).toContain('newly failing (0):\n  none');
  });
});
