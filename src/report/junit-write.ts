// The merged JUnit XML report, with flaky and rerun marking as Maven Surefire
// writes it (rerunFailingTestsCount):
//  - a test that passed after failing has no <failure>; each earlier failing
//    run is a <flakyFailure>/<flakyError> with a <stackTrace> child, and the
//    test counts as passed;
//  - a test that failed in every run has a <failure>/<error> holding the first
//    failure and a <rerunFailure>/<rerunError> per later failing run.
// The tree is built from elements and written by xml-writer.ts.
import type { MergedReport, MergedRun, MergedSuite, MergedTest } from './merge.js';
import { failingRuns } from './merge.js';
import { element, renderXmlDocument, text, type XmlElement } from './xml-writer.js';

/** Seconds with millisecond precision, as JUnit consumers expect. */
export function formatSeconds(sec: number): string {
  return Number.isFinite(sec) && sec > 0 ? sec.toFixed(3) : '0.000';
}

function isoOrUndefined(ms: number): string | undefined {
  return ms > 0 ? new Date(ms).toISOString() : undefined;
}

function problemAttributes(run: MergedRun): Array<readonly [string, string | undefined]> {
  return [
    ['message', run.message],
    ['type', run.type !== '' ? run.type : undefined],
  ];
}

/** `<failure>`/`<error>`: the details are the element's text. */
function primaryProblem(tag: 'failure' | 'error', run: MergedRun): XmlElement {
  return element(tag, problemAttributes(run), [text(run.details)]);
}

/** Surefire's flaky/rerun elements: the details go in a `<stackTrace>` child. */
function rerunProblem(tag: string, run: MergedRun): XmlElement {
  const where = `testudo: attempt ${run.attemptNumber} (${run.attemptId}) on worker ${run.workerId}, ${formatSeconds(run.timeSec)}s`;
  return element(tag, problemAttributes(run), [element('stackTrace', [], [text(run.details)]), element('system-out', [], [text(where)])]);
}

function outcomeElements(test: MergedTest): XmlElement[] {
  if (test.status === 'passed') {
    return failingRuns(test).map((run) => rerunProblem(run.status === 'error' ? 'flakyError' : 'flakyFailure', run));
  }
  if (test.status === 'failed' || test.status === 'error') {
    // The element follows the final status (so the counts match the summary);
    // its content is the first failure, later failing runs are reruns.
    const failing = failingRuns(test);
    const first = failing[0] ?? test.runs[test.runs.length - 1];
    if (first === undefined) return [];
    return [
      primaryProblem(test.status === 'error' ? 'error' : 'failure', first),
      ...failing.slice(1).map((run) => rerunProblem(run.status === 'error' ? 'rerunError' : 'rerunFailure', run)),
    ];
  }
  const message = test.runs[test.runs.length - 1]?.message ?? '';
  return [element('skipped', [['message', message !== '' ? message : undefined]])];
}

function testCaseElement(test: MergedTest): XmlElement {
  return element(
    'testcase',
    [
      ['classname', test.classname],
      ['name', test.name],
      ['time', formatSeconds(test.timeSec)],
      ['file', test.file !== '' ? test.file : undefined],
    ],
    outcomeElements(test),
  );
}

function propertiesElement(report: MergedReport, suite: MergedSuite): XmlElement {
  const props: Array<readonly [string, string]> = [
    ['testudo.run.id', report.runId],
    ['testudo.run.name', report.name],
    ['testudo.suite', suite.suite],
  ];
  for (const key of Object.keys(suite.matrix).sort()) props.push([`testudo.matrix.${key}`, suite.matrix[key] ?? '']);
  props.push(['testudo.tasks', suite.taskIds.join(',')]);
  if (suite.counts.flaky > 0) props.push(['testudo.flaky', String(suite.counts.flaky)]);
  return element(
    'properties',
    [],
    props.map(([name, value]) => element('property', [['name', name], ['value', value]])),
  );
}

function suiteElement(report: MergedReport, suite: MergedSuite, timestamp: string | undefined): XmlElement {
  const c = suite.counts;
  return element(
    'testsuite',
    [
      ['name', suite.name],
      ['tests', c.tests],
      ['failures', c.failed],
      ['errors', c.errors],
      ['skipped', c.skipped],
      ['time', formatSeconds(c.timeSec)],
      ['timestamp', timestamp],
    ],
    [propertiesElement(report, suite), ...suite.tests.map(testCaseElement)],
  );
}

/**
 * Renders the merged report as one JUnit XML document: a `<testsuites>` root
 * and a `<testsuite>` per suite label (suite × matrix cell). The root's `time`
 * is the run's wall-clock duration when it has finished (else the sum of the
 * suites' times); each suite's `time` is the sum of its tests' final times.
 */
export function renderJUnit(report: MergedReport): string {
  const c = report.counts;
  const timestamp = isoOrUndefined(report.submittedAtMs);
  const wallSec =
    report.finishedAtMs > 0 && report.submittedAtMs > 0 && report.finishedAtMs >= report.submittedAtMs
      ? (report.finishedAtMs - report.submittedAtMs) / 1000
      : c.timeSec;
  const root = element(
    'testsuites',
    [
      ['name', report.name],
      ['tests', c.tests],
      ['failures', c.failed],
      ['errors', c.errors],
      ['skipped', c.skipped],
      ['time', formatSeconds(wallSec)],
      ['timestamp', timestamp],
    ],
    report.suites.map((s) => suiteElement(report, s, timestamp)),
  );
  return renderXmlDocument(root);
}
