import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { JUnitParseError, lineBreakRestoreTriesMax, parseJUnitXml, restoreLineBreaks } from '../../src/report/junit-parse.js';
import {
  junitDetailsBytesMax,
  junitMessageBytesMax,
  junitNameBytesMax,
  testCasesMax,
  truncationMarker,
} from '../../src/worker/limits.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'worker', 'fixtures');
const fixture = (name: string): string => readFileSync(path.join(fixtures, name), 'utf8');

function parseError(xml: string, file?: string): JUnitParseError {
  try {
    parseJUnitXml(xml, file !== undefined ? { file } : {});
  } catch (err) {
    if (err instanceof JUnitParseError) return err;
    throw err;
  }
  throw new Error('expected a JUnitParseError');
}

describe('parseJUnitXml', () => {
  let tmp: string | undefined;
  afterEach(() => {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
    tmp = undefined;
  });

  it('reads the report node --test --test-reporter=junit writes (nested suites, top-level cases)', () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'testudo-junit-'));
    const testFile = path.join(tmp, 'sample.test.mjs');
    copyFileSync(path.join(fixtures, 'node-sample.mjs.txt'), testFile);
    const out = path.join(tmp, 'junit.xml');
    try {
      execFileSync(
        process.execPath,
        ['--test', '--test-reporter=junit', `--test-reporter-destination=${out}`, testFile],
        { stdio: 'ignore', timeout: 30_000 },
      );
    } catch {
      // exits 1: one test fails on purpose
    }
    const { tests, counts } = parseJUnitXml(readFileSync(out, 'utf8'), { file: out });
    expect(counts).toEqual({ total: 5, passed: 3, failed: 1, error: 0, skipped: 1 });
    const byName = new Map(tests.map((t) => [t.name, t]));
    expect([...byName.keys()].sort()).toEqual(['deep', 'fails <&>', 'passes', 'skipped', 'top level']);
    const failing = byName.get('fails <&>')!;
    expect(failing.status).toBe('failed');
    expect(failing.message).toContain('one is not two');
    expect(failing.type).toBe('testCodeFailure');
    expect(failing.details).toContain('AssertionError');
    expect(failing.details).toContain('TestContext.<anonymous>');
    expect(failing.timeSec).toBeGreaterThan(0);
    expect(byName.get('skipped')!.status).toBe('skipped');
    expect(byName.get('deep')!.status).toBe('passed');
    expect(byName.get('deep')!.message).toBe('');
  });

  it('reads a Surefire report (bare <testsuite>, CDATA, error, skipped, thousands separator)', () => {
    const { tests, counts } = parseJUnitXml(fixture('surefire.xml'));
    expect(counts).toEqual({ total: 4, passed: 1, failed: 1, error: 1, skipped: 1 });
    const [adds, divides, overflows, later] = tests;
    expect(adds).toMatchObject({ classname: 'com.example.CalculatorTest', name: 'adds', status: 'passed', timeSec: 0.012 });
    expect(divides).toMatchObject({
      status: 'failed',
      message: 'expected: <2> but was: <3>',
      type: 'org.opentest4j.AssertionFailedError',
    });
    expect(divides!.details).toMatch(/^org\.opentest4j\.AssertionFailedError: expected: <2> but was: <3>\n\tat /);
    expect(overflows).toMatchObject({ status: 'error', message: 'boom', type: 'java.lang.IllegalStateException' });
    expect(overflows!.details).toContain('CalculatorTest.java:30');
    expect(later).toMatchObject({ status: 'skipped', message: 'not yet', timeSec: 0 });
  });

  it('reads a pytest report (file attribute, numeric character references)', () => {
    const { tests, counts } = parseJUnitXml(fixture('pytest.xml'));
    expect(counts).toEqual({ total: 3, passed: 1, failed: 1, error: 0, skipped: 1 });
    expect(tests[0]).toMatchObject({
      classname: 'tests.test_math',
      name: 'test_add',
      file: 'tests/test_math.py',
      timeSec: 0.001,
    });
    expect(tests[1]!.message).toBe('assert -1 == 1\n +  where -1 = sub(0, 1)');
    expect(tests[1]!.details).toContain('>       assert sub(0, 1) == 1');
    expect(tests[2]).toMatchObject({ status: 'skipped', type: 'pytest.skip', message: 'no network' });
  });

  it('reads a jest-junit report (message from the body, invalid time → 0)', () => {
    const { tests, counts } = parseJUnitXml(fixture('jest-junit.xml'));
    expect(counts).toEqual({ total: 3, passed: 2, failed: 1, error: 0, skipped: 0 });
    expect(tests[1]).toMatchObject({
      classname: 'math utils divides by zero',
      file: 'src/math.test.ts',
      status: 'failed',
      message: 'Error: expect(received).toThrow()',
      type: '',
    });
    expect(tests[1]!.details).toContain('at Object.<anonymous>');
    expect(tests[2]!.timeSec).toBe(0);
  });

  it('reads a gotestsum report', () => {
    const { tests } = parseJUnitXml(fixture('gotestsum.xml'));
    expect(tests.map((t) => [t.classname, t.name, t.status])).toEqual([
      ['example.com/pkg/store', 'TestPut', 'passed'],
      ['example.com/pkg/store', 'TestGet', 'failed'],
    ]);
    expect(tests[1]!.details).toContain('store_test.go:20: got 1, want 2\n--- FAIL');
  });

  it('falls back to the enclosing suite names for a missing classname, then to the name', () => {
    const { tests } = parseJUnitXml(
      '<testsuites><testsuite name="a" file="a.test.js"><testsuite name="b"><testcase name="x" time="1.5"/></testsuite></testsuite><testcase name="y"/></testsuites>',
    );
    expect(tests.find((t) => t.name === 'x')).toMatchObject({ classname: 'a.b', file: 'a.test.js', timeSec: 1.5 });
    expect(tests.find((t) => t.name === 'y')).toMatchObject({ classname: 'y', file: '' });
  });

  it('accepts a report with no test cases', () => {
    expect(parseJUnitXml('<?xml version="1.0"?><testsuites/>').tests).toEqual([]);
    expect(parseJUnitXml('<testsuite name="empty" tests="0"></testsuite>').tests).toEqual([]);
  });

  it('rejects empty input, malformed XML (with its line) and a wrong root', () => {
    expect(parseError('').reason).toMatch(/empty JUnit report/);
    expect(parseError('  \n ', 'r.xml').reason).toBe('empty JUnit report in r.xml');
    const malformed = parseError('<testsuites>\n<testsuite>\n<testcase name="a">\n</testsuite>', 'r.xml');
    expect(malformed.name).toBe('JUnitParseError');
    expect(malformed.reason).toMatch(/^JUnit report in r\.xml is not well-formed XML \(line 4/);
    expect(parseError('not xml at all').reason).toMatch(/not well-formed/);
    expect(parseError('<html><body/></html>').reason).toMatch(/has root <html>, expected <testsuites> or <testsuite>/);
  });

  it('never expands DTD entities (no entity-expansion bomb)', () => {
    const lol = '<!ENTITY lol "lollollollollollollollollollol">';
    const levels = Array.from({ length: 8 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`);
    const xml = `<?xml version="1.0"?><!DOCTYPE lolz [${lol}${levels.join('')}]><testsuite><testcase name="&lol8;" classname="c &amp; d &#65;&#x42;"/></testsuite>`;
    const { tests } = parseJUnitXml(xml);
    expect(tests[0]!.name).toBe('&lol8;');
    expect(tests[0]!.classname).toBe('c & d AB');
  });

  it('bounds messages, details and names, marking the cut', () => {
    const huge = 'é'.repeat(100_000);
    const xml = `<testsuite><testcase name="${'n'.repeat(5000)}" classname="c"><failure message="${huge}">${huge}</failure></testcase></testsuite>`;
    const [test] = parseJUnitXml(xml).tests;
    expect(Buffer.byteLength(test!.message)).toBeLessThanOrEqual(junitMessageBytesMax);
    expect(test!.message.endsWith(truncationMarker)).toBe(true);
    expect(test!.message.startsWith('éé')).toBe(true);
    expect(test!.message).not.toContain('\uFFFD');
    expect(Buffer.byteLength(test!.details)).toBeLessThanOrEqual(junitDetailsBytesMax);
    expect(test!.details.endsWith(truncationMarker)).toBe(true);
    expect(Buffer.byteLength(test!.name)).toBeLessThanOrEqual(junitNameBytesMax);
    expect(test!.name.endsWith(truncationMarker)).toBe(true);
  });

  it('rejects more than testCasesMax cases', () => {
    const ok = `<testsuite>${'<testcase name="t"/>'.repeat(testCasesMax)}</testsuite>`;
    expect(parseJUnitXml(ok).tests).toHaveLength(testCasesMax);
    const tooMany = `<testsuite>${'<testcase name="t"/>'.repeat(testCasesMax + 1)}</testsuite>`;
    expect(parseError(tooMany).reason).toMatch(/more than 20000 test cases/);
  });
});

describe('restoreLineBreaks', () => {
  it("takes the body's text when the message is that text with its line breaks removed", () => {
    const body = 'Error [ERR_TEST_FAILURE]: line one\nline two\n\n1 !== 2\n    at x (a.js:1:1)';
    expect(restoreLineBreaks('line oneline two1 !== 2', body)).toBe('line one\nline two\n\n1 !== 2');
    const xml = `<testsuites><testcase name="t" classname="test"><failure message="line oneline two1 !== 2">${body}</failure></testcase></testsuites>`;
    expect(parseJUnitXml(xml).tests[0]?.message).toBe('line one\nline two\n\n1 !== 2');
  });

  it('keeps the message when the body does not hold it, when it already has line breaks, or past the bounded tries', () => {
    expect(restoreLineBreaks('expected 2', 'something\nelse')).toBe('expected 2');
    expect(restoreLineBreaks('a\nb', 'a\n\nb')).toBe('a\nb');
    expect(restoreLineBreaks('on one line', 'on one line\nat x')).toBe('on one line');
    expect(restoreLineBreaks('', 'x\ny')).toBe('');
    const decoys = 'ab '.repeat(lineBreakRestoreTriesMax + 1);
    expect(restoreLineBreaks('abc', `${decoys}a\nbc`)).toBe('abc');
    expect(restoreLineBreaks('abc', `ab a\nbc`)).toBe('a\nbc');
  });
});
