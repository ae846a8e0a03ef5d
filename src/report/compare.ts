// Two runs side by side (`testudo runs compare A B`): the tests that newly
// fail in B, those that newly pass, and those whose time changed most. Pure:
// two run views in, plain data out.
import type { RunState, RunView, TestCaseStatus } from '../model/types.js';
import { mergeRun, type MergedTest } from './merge.js';

/** Duration changes listed by default. */
export const durationChangesDefault = 10;
/** The most duration changes a comparison lists. */
export const durationChangesMax = 1000;
/** Changes smaller than this are noise, not listed (seconds). */
export const durationChangeMinSec = 0.001;

export interface ComparedRun {
  readonly runId: string;
  readonly name: string;
  readonly state: RunState;
  readonly tests: number;
}

export interface StatusChange {
  /** The suite label (suite and matrix cell). */
  readonly suite: string;
  /** `classname::name` as the runner wrote it: what the runs are matched by. */
  readonly id: string;
  /** `classname::name` with the class the reports use (the file where the runner's class is generic). */
  readonly label: string;
  /** null when the test was not in the base run. */
  readonly before: TestCaseStatus | null;
  readonly after: TestCaseStatus;
  /** The head run's final failure message (empty for a pass). */
  readonly message: string;
}

export interface DurationChange {
  readonly suite: string;
  readonly id: string;
  readonly label: string;
  readonly beforeSec: number;
  readonly afterSec: number;
  readonly deltaSec: number;
  /** afterSec / beforeSec; null when the base time was 0. */
  readonly ratio: number | null;
}

export interface RunComparison {
  readonly base: ComparedRun;
  readonly head: ComparedRun;
  /** Failing (failed or error) in the head run and not in the base run, new tests included. */
  readonly newlyFailing: readonly StatusChange[];
  /** Passed in the head run after failing in the base run. */
  readonly newlyPassing: readonly StatusChange[];
  /** Tests that ran (not skipped) in both, by the size of the change, largest first. */
  readonly durationChanges: readonly DurationChange[];
  readonly inBoth: number;
  readonly onlyInBase: number;
  readonly onlyInHead: number;
}

export interface CompareOptions {
  /** How many duration changes to list (default {@link durationChangesDefault}). */
  readonly durationChanges?: number;
}

function isFailing(status: TestCaseStatus): boolean {
  return status === 'failed' || status === 'error';
}

/**
 * The run's tests by suite label and id (the k-th occurrence of a repeated id
 * is its own entry). Synthetic cases stand for a task of that run by its id,
 * which no other run shares: they are left out.
 */
function testsByKey(run: RunView): Map<string, MergedTest> {
  const out = new Map<string, MergedTest>();
  const seen = new Map<string, number>();
  for (const test of mergeRun(run).suites.flatMap((s) => s.tests)) {
    if (test.synthetic) continue;
    const base = `${test.suite}\u0000${test.id}`;
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.set(`${base}\u0000${n}`, test);
  }
  return out;
}

function compared(run: RunView, tests: number): ComparedRun {
  return { runId: run.runId, name: run.name, state: run.state, tests };
}

function byKey<T extends { suite: string; id: string }>(a: T, b: T): number {
  return a.suite < b.suite ? -1 : a.suite > b.suite ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function labelOf(test: MergedTest): string {
  return `${test.classname}::${test.name}`;
}

function durationChange(before: MergedTest, after: MergedTest): DurationChange {
  const beforeSec = before.timeSec;
  const afterSec = after.timeSec;
  const round = (n: number): number => Math.round(n * 1000) / 1000;
  return {
    suite: after.suite,
    id: after.id,
    label: labelOf(after),
    beforeSec: round(beforeSec),
    afterSec: round(afterSec),
    deltaSec: round(afterSec - beforeSec),
    ratio: beforeSec > 0 ? Math.round((afterSec / beforeSec) * 100) / 100 : null,
  };
}

export function compareRuns(base: RunView, head: RunView, options: CompareOptions = {}): RunComparison {
  const limit = options.durationChanges ?? durationChangesDefault;
  if (!Number.isInteger(limit) || limit < 0 || limit > durationChangesMax) throw new RangeError(`durationChanges must be 0..${durationChangesMax}`);
  const before = testsByKey(base);
  const after = testsByKey(head);
  const newlyFailing: StatusChange[] = [];
  const newlyPassing: StatusChange[] = [];
  const durations: DurationChange[] = [];
  let inBoth = 0;
  for (const [key, test] of after) {
    const old = before.get(key);
    if (old !== undefined) inBoth++;
    const message = isFailing(test.status) ? (test.runs[test.runs.length - 1]?.message ?? '') : '';
    const change = { suite: test.suite, id: test.id, label: labelOf(test), before: old?.status ?? null, after: test.status, message };
    if (isFailing(test.status) && (old === undefined || !isFailing(old.status))) newlyFailing.push(change);
    if (test.status === 'passed' && old !== undefined && isFailing(old.status)) newlyPassing.push(change);
    if (old !== undefined && test.status !== 'skipped' && old.status !== 'skipped') {
      const d = durationChange(old, test);
      if (Math.abs(d.deltaSec) >= durationChangeMinSec) durations.push(d);
    }
  }
  durations.sort((a, b) => Math.abs(b.deltaSec) - Math.abs(a.deltaSec) || byKey(a, b));
  return {
    base: compared(base, before.size),
    head: compared(head, after.size),
    newlyFailing: newlyFailing.sort(byKey),
    newlyPassing: newlyPassing.sort(byKey),
    durationChanges: durations.slice(0, limit),
    inBoth,
    onlyInBase: before.size - inBoth,
    onlyInHead: after.size - inBoth,
  };
}

function secText(n: number): string {
  return `${n.toFixed(2)}s`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** The comparison as text for a terminal (one item per line). */
export function formatComparison(c: RunComparison): string {
  const lines: string[] = [];
  lines.push(`base ${c.base.runId} (${c.base.name}): ${c.base.state}, ${c.base.tests} tests`);
  lines.push(`head ${c.head.runId} (${c.head.name}): ${c.head.state}, ${c.head.tests} tests`);
  lines.push(`tests: ${c.inBoth} in both, ${c.onlyInBase} only in base, ${c.onlyInHead} only in head`, '');
  lines.push(`newly failing (${c.newlyFailing.length}):`);
  if (c.newlyFailing.length === 0) lines.push('  none');
  for (const f of c.newlyFailing) {
    const message = f.message !== '' ? `: ${oneLine(f.message, 160)}` : '';
    lines.push(`  ${f.suite}  ${f.label}  (${f.before ?? 'new'} -> ${f.after})${message}`);
  }
  lines.push('', `newly passing (${c.newlyPassing.length}):`);
  if (c.newlyPassing.length === 0) lines.push('  none');
  for (const p of c.newlyPassing) lines.push(`  ${p.suite}  ${p.label}  (${p.before ?? 'new'} -> ${p.after})`);
  lines.push('', `largest duration changes (${c.durationChanges.length}):`);
  if (c.durationChanges.length === 0) lines.push('  none');
  for (const d of c.durationChanges) {
    const sign = d.deltaSec >= 0 ? '+' : '-';
    const ratio = d.ratio === null ? '' : `, x${d.ratio.toFixed(2)}`;
    lines.push(`  ${d.suite}  ${d.label}  ${secText(d.beforeSec)} -> ${secText(d.afterSec)}  (${sign}${secText(Math.abs(d.deltaSec))}${ratio})`);
  }
  return `${lines.join('\n')}\n`;
}
