// The merged JUnit XML report, with flaky and rerun marking as Maven Surefire
// writes it (rerunFailingTestsCount):
//  - a test that passed after failing has no <failure>; each earlier failing
//    run is a <flakyFailure>/<flakyError> with a <stackTrace> child, and the
//    test counts as passed;
//  - a test that failed in every run has a <failure>/<error> holding the first
//    failure and a <rerunFailure>/<rerunError> per later failing run.
import type { MergedReport, MergedRun, MergedSuite, MergedTest } from './merge.js';
import { failingRuns } from './merge.js';
import { escapeXmlAttr, escapeXmlText } from './xml-escape.js';

function attrs(pairs: ReadonlyArray<readonly [string, string | number]>): string {
  return pairs.map(([k, v]) => ` ${k}="${escapeXmlAttr(String(v))}"`).join('');
}

/** Seconds with millisecond precision, as JUnit consumers expect. */
export function formatSeconds(sec: number): string {
  return Number.isFinite(sec) && sec > 0 ? sec.toFixed(3) : '0.000';
}

function isoOrEmpty(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : '';
}

function problemAttrs(run: MergedRun): string {
  const pairs: Array<readonly [string, string]> = [['message', run.message]];
  if (run.type !== '') pairs.push(['type', run.type]);
  return attrs(pairs);
}

/** `<failure>`/`<error>`: the details are the element's text. */
function primaryProblem(tag: 'failure' | 'error', run: MergedRun, indent: string): string {
  const body = run.details === '' ? '' : escapeXmlText(run.details);
  return body === '' ? `${indent}<${tag}${problemAttrs(run)}/>` : `${indent}<${tag}${problemAttrs(run)}>${body}</${tag}>`;
}

/** Surefire's flaky/rerun elements: the details go in a `<stackTrace>` child. */
function rerunProblem(tag: string, run: MergedRun, indent: string): string {
  const lines = [`${indent}<${tag}${problemAttrs(run)}>`];
  lines.push(`${indent}  <stackTrace>${escapeXmlText(run.details)}</stackTrace>`);
  const out = `testudo: attempt ${run.attemptNumber} (${run.attemptId}) on worker ${run.workerId}, ${formatSeconds(run.timeSec)}s`;
  lines.push(`${indent}  <system-out>${escapeXmlText(out)}</system-out>`);
  lines.push(`${indent}</${tag}>`);
  return lines.join('\n');
}

function renderTestCase(test: MergedTest): string {
  const head = `    <testcase${attrs([
    ['classname', test.classname],
    ['name', test.name],
    ['time', formatSeconds(test.timeSec)],
    ...(test.file !== '' ? ([['file', test.file]] as const) : []),
  ])}`;
  const children: string[] = [];
  const indent = '      ';
  const final = test.runs[test.runs.length - 1];
  if (test.status === 'passed') {
    for (const run of failingRuns(test)) {
      children.push(rerunProblem(run.status === 'error' ? 'flakyError' : 'flakyFailure', run, indent));
    }
  } else if (test.status === 'failed' || test.status === 'error') {
    // The element follows the final status (so the counts match the summary);
    // its content is the first failure, later failing runs are reruns.
    const failing = failingRuns(test);
    const first = failing[0] ?? final;
    if (first !== undefined) {
      children.push(primaryProblem(test.status === 'error' ? 'error' : 'failure', first, indent));
      for (const run of failing.slice(1)) {
        children.push(rerunProblem(run.status === 'error' ? 'rerunError' : 'rerunFailure', run, indent));
      }
    }
  } else {
    const msg = final?.message ?? '';
    children.push(`${indent}<skipped${msg !== '' ? attrs([['message', msg]]) : ''}/>`);
  }
  if (children.length === 0) return `${head}/>`;
  return `${head}>\n${children.join('\n')}\n    </testcase>`;
}

function renderProperties(report: MergedReport, suite: MergedSuite): string {
  const props: Array<readonly [string, string]> = [
    ['testudo.run.id', report.runId],
    ['testudo.run.name', report.name],
    ['testudo.suite', suite.suite],
  ];
  for (const key of Object.keys(suite.matrix).sort()) props.push([`testudo.matrix.${key}`, suite.matrix[key] ?? '']);
  props.push(['testudo.tasks', suite.taskIds.join(',')]);
  if (suite.counts.flaky > 0) props.push(['testudo.flaky', String(suite.counts.flaky)]);
  const lines = props.map(([name, value]) => `      <property${attrs([['name', name], ['value', value]])}/>`);
  return `    <properties>\n${lines.join('\n')}\n    </properties>`;
}

function renderSuite(report: MergedReport, suite: MergedSuite, timestamp: string): string {
  const c = suite.counts;
  const head = `  <testsuite${attrs([
    ['name', suite.name],
    ['tests', c.tests],
    ['failures', c.failed],
    ['errors', c.errors],
    ['skipped', c.skipped],
    ['time', formatSeconds(c.timeSec)],
    ...(timestamp !== '' ? ([['timestamp', timestamp]] as const) : []),
  ])}>`;
  const body = [renderProperties(report, suite), ...suite.tests.map(renderTestCase)];
  return `${head}\n${body.join('\n')}\n  </testsuite>`;
}

/**
 * Renders the merged report as one JUnit XML document: a `<testsuites>` root
 * and a `<testsuite>` per suite label (suite × matrix cell). The root's `time`
 * is the run's wall-clock duration when it has finished (else the sum of the
 * suites' times); each suite's `time` is the sum of its tests' final times.
 */
export function renderJUnit(report: MergedReport): string {
  const c = report.counts;
  const timestamp = isoOrEmpty(report.submittedAtMs);
  const wallSec =
    report.finishedAtMs > 0 && report.submittedAtMs > 0 && report.finishedAtMs >= report.submittedAtMs
      ? (report.finishedAtMs - report.submittedAtMs) / 1000
      : c.timeSec;
  const head = `<testsuites${attrs([
    ['name', report.name],
    ['tests', c.tests],
    ['failures', c.failed],
    ['errors', c.errors],
    ['skipped', c.skipped],
    ['time', formatSeconds(wallSec)],
    ...(timestamp !== '' ? ([['timestamp', timestamp]] as const) : []),
  ])}>`;
  const suites = report.suites.map((s) => renderSuite(report, s, timestamp));
  return ['<?xml version="1.0" encoding="UTF-8"?>', head, ...suites, '</testsuites>', ''].join('\n');
}
