import { testId, type TestCaseStatus } from '../model/types.js';
import { assert } from '../common/assert.js';

/**
 * Per-test outcomes of one suite run two ways (its own runner directly, and
 * through a Testudo cluster), compared test by test. A test is named by its
 * runner's `classname::name`, the id the merged report keeps; a name that
 * occurs k times stands for k tests, and their statuses are compared as a
 * multiset (the runner's order within a shard is not the cluster's).
 */

/** Differences listed in full in a comparison; the count covers them all. */
export const outcomeDifferencesShownMax = 50;

export interface TestOutcome {
  /** The runner's `classname::name` ({@link outcomeOf}). */
  readonly id: string;
  readonly status: TestCaseStatus;
}

export interface OutcomeCounts {
  readonly tests: number;
  readonly passed: number;
  readonly failed: number;
  readonly errors: number;
  readonly skipped: number;
}

/** One test id whose statuses differ: missing on one side, or a status flipped. */
export interface OutcomeDifference {
  readonly id: string;
  /** Sorted statuses of the id's occurrences on each side ([] where absent). */
  readonly direct: readonly TestCaseStatus[];
  readonly cluster: readonly TestCaseStatus[];
}

export interface OutcomeComparison {
  /** Every test id has the same statuses on both sides. */
  readonly same: boolean;
  readonly direct: OutcomeCounts;
  readonly cluster: OutcomeCounts;
  /** Ids that differ, all of them. */
  readonly differenceCount: number;
  /** The first {@link outcomeDifferencesShownMax} of them, by id. */
  readonly differences: readonly OutcomeDifference[];
}

/** A JUnit test case's outcome, named as the merged report names it (`MergedTest.id`). */
export function outcomeOf(test: { readonly classname: string; readonly name: string; readonly status: TestCaseStatus }): TestOutcome {
  return { id: testId(test), status: test.status };
}

export function countOutcomes(tests: readonly TestOutcome[]): OutcomeCounts {
  const count = (status: TestCaseStatus): number => tests.filter((t) => t.status === status).length;
  return { tests: tests.length, passed: count('passed'), failed: count('failed'), errors: count('error'), skipped: count('skipped') };
}

/** Id → the sorted statuses of its occurrences. */
function outcomeTable(tests: readonly TestOutcome[]): Map<string, TestCaseStatus[]> {
  const table = new Map<string, TestCaseStatus[]>();
  for (const test of tests) {
    const statuses = table.get(test.id) ?? [];
    statuses.push(test.status);
    table.set(test.id, statuses);
  }
  for (const statuses of table.values()) statuses.sort();
  return table;
}

function sameStatuses(a: readonly TestCaseStatus[], b: readonly TestCaseStatus[]): boolean {
  return a.length === b.length && a.every((status, i) => status === b[i]);
}

export function compareOutcomes(direct: readonly TestOutcome[], cluster: readonly TestOutcome[]): OutcomeComparison {
  const left = outcomeTable(direct);
  const right = outcomeTable(cluster);
  const ids = [...new Set([...left.keys(), ...right.keys()])].sort();
  const differences: OutcomeDifference[] = [];
  for (const id of ids) {
    const d = left.get(id) ?? [];
    const c = right.get(id) ?? [];
    if (!sameStatuses(d, c)) differences.push({ id, direct: d, cluster: c });
  }
  const comparison = {
    same: differences.length === 0,
    direct: countOutcomes(direct),
    cluster: countOutcomes(cluster),
    differenceCount: differences.length,
    differences: differences.slice(0, outcomeDifferencesShownMax),
  };
  // Equal outcome tables have equal counts; the converse is what is checked.
  assert(!comparison.same || JSON.stringify(comparison.direct) === JSON.stringify(comparison.cluster), 'same outcomes with different counts');
  return comparison;
}
