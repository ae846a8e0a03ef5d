import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { attempt, runView, task, tc } from './fixtures.js';
import { renderJUnit } from '../../src/report/junit-write.js';
import { mergeRun } from '../../src/report/merge.js';
import { buildSummary } from '../../src/report/summary.js';
import { escapeXmlAttr, escapeXmlText, stripIllegalXmlChars } from '../../src/report/xml-escape.js';


// ---- parsing the output back ----
type Node = Record<string, unknown>;
const ARRAYS = new Set([
  'testsuite',
  'testcase',
  'property',
  'failure',
  'error',
  'skipped',
  'flakyFailure',
  'flakyError',
  'rerunFailure',
  'rerunError',
]);
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  htmlEntities: true,
  textNodeName: '#text',
  isArray: (name) => ARRAYS.has(name),
});

function parse(xml: string): { root: Node; suites: Node[] } {
  expect(XMLValidator.validate(xml)).toBe(true);
  const doc = parser.parse(xml) as Node;
  const root = doc['testsuites'] as Node;
  return { root, suites: (root['testsuite'] as Node[] | undefined) ?? [] };
}

function cases(suite: Node): Node[] {
  return (suite['testcase'] as Node[] | undefined) ?? [];
}

function caseNamed(xml: string, name: string): Node {
  const all = parse(xml).suites.flatMap(cases);
  const c = all.find((x) => x['@_name'] === name);
  if (c === undefined) throw new Error(`no testcase ${name}`);
  return c;
}

function text(node: unknown): string {
  if (typeof node === 'string') return node;
  if (node && typeof node === 'object' && '#text' in node) return String((node as Node)['#text']);
  return '';
}

function list(node: Node, key: string): Node[] {
  return (node[key] as Node[] | undefined) ?? [];
}

describe('renderJUnit', () => {
  it('renders a flaky test as Surefire does: flakyFailure with stackTrace, no failure, counted as passed', () => {
    const run = runView([
      task('t1', [
        attempt(1, 'failed', [tc('pkg.C', 'flaky', 'failed', { message: 'boom 1', type: 'AssertionError', details: 'at line 1' }), tc('pkg.C', 'ok')], { workerId: 'w1' }),
        attempt(2, 'failed', [tc('pkg.C', 'flaky', 'error', { message: 'boom 2', type: 'TypeError', details: 'at line 2' }), tc('pkg.C', 'ok')], { workerId: 'w2' }),
        attempt(3, 'passed', [tc('pkg.C', 'flaky', 'passed', { timeSec: 1.25 }), tc('pkg.C', 'ok')], { workerId: 'w3' }),
      ]),
    ]);
    const xml = renderJUnit(mergeRun(run));
    const c = caseNamed(xml, 'flaky');
    expect(c['@_classname']).toBe('pkg.C');
    expect(c['@_time']).toBe('1.250');
    expect(c['failure']).toBeUndefined();
    expect(c['error']).toBeUndefined();
    const flakyFailures = list(c, 'flakyFailure');
    const flakyErrors = list(c, 'flakyError');
    expect(flakyFailures).toHaveLength(1);
    expect(flakyErrors).toHaveLength(1);
    expect(flakyFailures[0]).toMatchObject({ '@_message': 'boom 1', '@_type': 'AssertionError' });
    expect(text(flakyFailures[0]?.['stackTrace'])).toBe('at line 1');
    expect(flakyErrors[0]).toMatchObject({ '@_message': 'boom 2', '@_type': 'TypeError' });
    expect(text(flakyErrors[0]?.['stackTrace'])).toBe('at line 2');
    expect(text(flakyErrors[0]?.['system-out'])).toContain('w2');
    const [suite] = parse(xml).suites;
    expect(suite).toMatchObject({ '@_tests': '2', '@_failures': '0', '@_errors': '0', '@_skipped': '0' });
    expect(xml).toContain('<flakyFailure message="boom 1" type="AssertionError">\n        <stackTrace>at line 1</stackTrace>');
  });

  it('renders a test failing every run as failure (first run) plus rerunFailure per rerun', () => {
    const run = runView([
      task('t1', [
        attempt(1, 'failed', [tc('C', 'bad', 'failed', { message: 'm1', details: 'd1' })]),
        attempt(2, 'failed', [tc('C', 'bad', 'failed', { message: 'm2', details: 'd2' })]),
        attempt(3, 'failed', [tc('C', 'bad', 'failed', { message: 'm3', details: 'd3' })]),
      ]),
    ]);
    const xml = renderJUnit(mergeRun(run));
    const c = caseNamed(xml, 'bad');
    const failures = list(c, 'failure');
    expect(failures).toHaveLength(1);
    expect(failures[0]?.['@_message']).toBe('m1');
    expect(text(failures[0])).toBe('d1');
    const reruns = list(c, 'rerunFailure');
    expect(reruns.map((r) => r['@_message'])).toEqual(['m2', 'm3']);
    expect(reruns.map((r) => text(r['stackTrace']))).toEqual(['d2', 'd3']);
    expect(c['flakyFailure']).toBeUndefined();
    expect(parse(xml).suites[0]).toMatchObject({ '@_tests': '1', '@_failures': '1', '@_errors': '0' });
  });

  it('renders errors as <error> and reruns of errors as rerunError', () => {
    const run = runView([
      task('t1', [
        attempt(1, 'failed', [tc('C', 'err', 'error', { message: 'e1' }), tc('C', 'fail', 'failed')]),
        attempt(2, 'failed', [tc('C', 'err', 'error', { message: 'e2' }), tc('C', 'fail', 'failed')]),
      ]),
    ]);
    const xml = renderJUnit(mergeRun(run));
    const e = caseNamed(xml, 'err');
    expect(list(e, 'error')).toHaveLength(1);
    expect(e['failure']).toBeUndefined();
    expect(list(e, 'rerunError').map((r) => r['@_message'])).toEqual(['e2']);
    const f = caseNamed(xml, 'fail');
    expect(list(f, 'failure')).toHaveLength(1);
    expect(list(f, 'rerunFailure')).toHaveLength(1);
    expect(parse(xml).root).toMatchObject({ '@_tests': '2', '@_failures': '1', '@_errors': '1' });
  });

  it('renders skipped tests with <skipped/>', () => {
    const run = runView([task('t1', [attempt(1, 'passed', [tc('C', 's', 'skipped', { message: 'not on linux' }), tc('C', 'p')])])]);
    const xml = renderJUnit(mergeRun(run));
    expect(list(caseNamed(xml, 's'), 'skipped')[0]?.['@_message']).toBe('not on linux');
    expect(xml).toMatch(/<testcase classname="C" name="p" time="0.500"\/>/);
    expect(parse(xml).suites[0]).toMatchObject({ '@_tests': '2', '@_skipped': '1', '@_failures': '0' });
  });

  it('renders a failed-infra task without tests as a synthetic error case', () => {
    const run = runView([
      task('t1', [attempt(1, 'passed', [tc('C', 'a')])], { suite: 'unit', shard: 1, shardCount: 2 }),
      task('t2', [attempt(1, 'infra-error', [], { infraClass: 'timeout', resultReason: 'timed out after 600s' })], {
        suite: 'unit',
        shard: 2,
        shardCount: 2,
        reason: 'infrastructure failure: timeout',
      }),
    ]);
    const xml = renderJUnit(mergeRun(run));
    const c = caseNamed(xml, 't2 (shard 2/2)');
    expect(c['@_classname']).toBe('testudo.unit');
    const errors = list(c, 'error');
    expect(errors[0]?.['@_message']).toBe('infrastructure failure: timeout');
    expect(text(errors[0])).toContain('[timeout]');
    expect(parse(xml).suites[0]).toMatchObject({ '@_name': 'unit', '@_tests': '2', '@_errors': '1' });
  });

  it('names matrix cells, carries file and properties', () => {
    const run = runView([
      task('t1', [attempt(1, 'passed', [tc('C', 'a', 'passed', { file: 'test/a.test.ts' })])], { suite: 'e2e', matrix: { locale: 'fr' } }),
    ], { name: 'nightly "main"' });
    const xml = renderJUnit(mergeRun(run));
    const { root, suites } = parse(xml);
    expect(root['@_name']).toBe('nightly "main"');
    expect(root['@_timestamp']).toBe('2025-01-02T03:04:05.000Z');
    expect(root['@_time']).toBe('600.000');
    expect(suites[0]?.['@_name']).toBe('e2e[locale=fr]');
    expect(cases(suites[0] ?? {})[0]?.['@_file']).toBe('test/a.test.ts');
    const props = list((suites[0]?.['properties'] ?? {}) as Node, 'property');
    const byName = Object.fromEntries(props.map((p) => [p['@_name'], p['@_value']]));
    expect(byName).toMatchObject({ 'testudo.run.id': 'run-1', 'testudo.run.name': 'nightly "main"', 'testudo.matrix.locale': 'fr' });
  });

  it('escapes quotes, ampersands, angle brackets, control characters and ]]>', () => {
    const nasty = `a "q" 'x' & <b> ]]> \u0000\u0001\u0008\u000b\u001f\uFFFE end`;
    const run = runView([
      task('t1', [
        attempt(1, 'failed', [tc('C<&>', `name ${nasty}`, 'failed', { message: `msg ${nasty}\nline2`, details: `details ${nasty}`, type: 'T"' })]),
        attempt(2, 'failed', [tc('C<&>', `name ${nasty}`, 'failed', { message: nasty, details: `<![CDATA[ ${nasty} ]]>` })]),
      ]),
    ]);
    const xml = renderJUnit(mergeRun(run));
    // eslint-disable-next-line no-control-regex
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\uFFFE\uFFFF]/);
    expect(xml).not.toContain(']]>');
    const cleaned = `a "q" 'x' & <b> ]]>  end`;
    const c = caseNamed(xml, `name ${cleaned}`);
    expect(c['@_classname']).toBe('C<&>');
    const failure = list(c, 'failure')[0];
    expect(failure?.['@_message']).toBe(`msg ${cleaned}\nline2`);
    expect(failure?.['@_type']).toBe('T"');
    expect(text(failure)).toBe(`details ${cleaned}`);
    expect(text(list(c, 'rerunFailure')[0]?.['stackTrace'])).toBe(`<![CDATA[ ${cleaned} ]]>`);
  });

  it('has escape helpers that keep legal text and drop illegal characters', () => {
    expect(escapeXmlText('a<b>&c]]>')).toBe('a&lt;b&gt;&amp;c]]&gt;');
    expect(escapeXmlAttr(`"'\t\n\r`)).toBe('&quot;&apos;&#9;&#10;&#13;');
    expect(stripIllegalXmlChars('ok\u0000\t\n\r😀\uD800x')).toBe('ok\t\n\r😀x');
  });

  it('parses back to the same counts as the JSON summary', () => {
    const run = runView([
      task('t1', [
        attempt(1, 'failed', [tc('A', 'flaky', 'failed'), tc('A', 'ok'), tc('A', 'skip', 'skipped'), tc('A', 'bad', 'failed')]),
        attempt(2, 'failed', [tc('A', 'flaky'), tc('A', 'ok'), tc('A', 'skip', 'skipped'), tc('A', 'bad', 'failed')]),
      ], { suite: 'unit', shard: 1, shardCount: 2 }),
      task('t2', [attempt(1, 'lost', []), attempt(2, 'passed', [tc('B', 'x'), tc('B', 'y', 'error')])], { suite: 'unit', shard: 2, shardCount: 2, state: 'failed' }),
      task('t3', [attempt(1, 'infra-error', []), attempt(2, 'infra-error', [])], { suite: 'e2e', matrix: { locale: 'fr' } }),
      task('t4', [], { suite: 'e2e', matrix: { locale: 'en' }, state: 'cancelled', reason: 'run cancelled' }),
    ]);
    const merged = mergeRun(run);
    const summary = buildSummary(run, merged);
    const { root, suites } = parse(renderJUnit(merged));
    const num = (n: Node | undefined, k: string): number => Number(n?.[`@_${k}`]);
    expect(num(root, 'tests')).toBe(summary.totals.tests);
    expect(num(root, 'failures')).toBe(summary.totals.failed);
    expect(num(root, 'errors')).toBe(summary.totals.errors);
    expect(num(root, 'skipped')).toBe(summary.totals.skipped);
    expect(summary.totals).toMatchObject({ tests: 8, passed: 3, failed: 1, errors: 3, skipped: 1, flaky: 1 });
    expect(suites.map((s) => s['@_name'])).toEqual(summary.perSuite.map((s) => s.suite));
    suites.forEach((s, i) => {
      const p = summary.perSuite[i];
      expect(num(s, 'tests')).toBe(p?.tests);
      expect(cases(s)).toHaveLength(p?.tests ?? -1);
      expect(num(s, 'failures')).toBe(p?.failed);
      expect(num(s, 'errors')).toBe(p?.errors);
      expect(num(s, 'skipped')).toBe(p?.skipped);
      // Recount from the testcase elements as a JUnit consumer would.
      expect(cases(s).filter((c) => c['failure']).length).toBe(p?.failed);
      expect(cases(s).filter((c) => c['error']).length).toBe(p?.errors);
      expect(cases(s).filter((c) => c['flakyFailure'] || c['flakyError']).length).toBe(p?.flaky);
    });
  });
});
