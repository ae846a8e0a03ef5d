// The merged JUnit report as a CI consumer reads it: real `node --test` JUnit
// output goes through the parser and the merge, and junitparser (Debian's
// python3-junitparser, run by test/report/consumers/junit_consumer.py) reads
// the result back, Surefire's flaky and rerun elements included.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestCaseResult } from '../../src/model/types.js';
import { parseJUnitXml } from '../../src/report/junit-parse.js';
import { mergeRun } from '../../src/report/merge.js';
import { buildSummary } from '../../src/report/summary.js';
import { writeReports } from '../../src/report/write-reports.js';
import { attempt, runView, task, tc } from './fixtures.js';

const run = promisify(execFile);

/** Debian's interpreter: python3-junitparser installs for it, not for other Pythons on PATH. */
const PYTHON = process.env['TESTUDO_PYTHON'] ?? '/usr/bin/python3';
const CONSUMER = join(import.meta.dirname, 'consumers', 'junit_consumer.py');

const CART_TEST = `
import { describe, test } from 'node:test';
import assert from 'node:assert';
describe('cart', () => {
  test('adds item', () => { assert.strictEqual(1, process.env.FLAKY_PASS ? 1 : 2, 'cart total\\nwas wrong'); });
  test('removes item', () => {});
});
test('always fails', () => { assert.fail('first line\\nsecond line'); });
test('not here', { skip: 'not on this platform' }, () => {});
`;

interface ConsumedRerun {
  kind: string;
  message: string | null;
  type: string | null;
  stackTrace: string | null;
  systemOut: string | null;
}
interface ConsumedCase {
  classname: string;
  name: string;
  time: number;
  passed: boolean;
  skipped: boolean;
  results: { kind: string; message: string | null; type: string | null; text: string | null }[];
  reruns: ConsumedRerun[];
}
interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}
interface Consumed {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  suites: { name: string; time: number; declared: Counts; counted: Counts; cases: ConsumedCase[] }[];
}

async function consume(xmlPath: string): Promise<{ code: number; out: Consumed | null; stderr: string }> {
  try {
    const { stdout, stderr } = await run(PYTHON, [CONSUMER, xmlPath]);
    return { code: 0, out: JSON.parse(stdout) as Consumed, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ? (JSON.parse(e.stdout) as Consumed) : null, stderr: e.stderr ?? String(err) };
  }
}

/** Runs the fixture file with Node's own JUnit reporter and parses what it wrote. */
async function nodeJUnit(dir: string, flakyPass: boolean): Promise<TestCaseResult[]> {
  const out = join(dir, `junit-${flakyPass ? 'pass' : 'fail'}.xml`);
  const env = { ...process.env, FLAKY_PASS: flakyPass ? '1' : '' };
  await run(process.execPath, ['--test', '--test-reporter=junit', `--test-reporter-destination=${out}`, 'cart.test.mjs'], { cwd: dir, env }).catch(() => undefined);
  return parseJUnitXml(await readFile(out, 'utf8'), { file: out }).tests;
}

describe('merged JUnit read by junitparser', () => {
  let dir = '';
  let xmlPath = '';
  let consumed: Consumed;
  let summary: ReturnType<typeof buildSummary>;

  beforeAll(async () => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install -y python3-junitparser`);
    dir = await mkdtemp(join(tmpdir(), 'testudo-junit-consumer-'));
    await writeFile(join(dir, 'cart.test.mjs'), CART_TEST);
    const [first, second] = await Promise.all([nodeJUnit(dir, false), nodeJUnit(dir, true)]);
    const view = runView([
      task('t1', [attempt(1, 'failed', first, { workerId: 'w1' }), attempt(2, 'failed', second, { workerId: 'w2' })], { suite: 'unit', files: ['cart.test.mjs'] }),
      task('t2', [attempt(1, 'passed', [tc('pkg.Other', 'fine'), tc('pkg.Other', 'skipme', 'skipped')])], { suite: 'e2e', matrix: { locale: 'fr' } }),
      task('t3', [attempt(1, 'infra-error', [], { infraClass: 'timeout', resultReason: 'timed out' })], { suite: 'e2e', matrix: { locale: 'fr' }, reason: 'infrastructure failure: timeout' }),
    ]);
    const paths = await writeReports(view, join(dir, 'out'));
    xmlPath = paths.junit;
    summary = buildSummary(view, mergeRun(view));
    const result = await consume(xmlPath);
    expect(result.code, result.stderr).toBe(0);
    consumed = result.out!;
  }, 60_000);

  afterAll(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  const caseNamed = (name: string): ConsumedCase => {
    const found = consumed.suites.flatMap((s) => s.cases).find((c) => c.name === name);
    if (found === undefined) throw new Error(`junitparser saw no case ${name}`);
    return found;
  };

  it('sees each suite with counts that match its cases and the JSON summary', () => {
    expect(consumed.suites.map((s) => s.name)).toEqual(summary.perSuite.map((s) => s.suite));
    consumed.suites.forEach((s, i) => {
      const p = summary.perSuite[i]!;
      expect(s.declared).toEqual(s.counted);
      expect(s.declared).toEqual({ tests: p.tests, failures: p.failed, errors: p.errors, skipped: p.skipped });
      expect(s.time).toBeCloseTo(p.durationSec, 3);
    });
    expect(consumed).toMatchObject({ tests: summary.totals.tests, failures: summary.totals.failed, errors: summary.totals.errors, skipped: summary.totals.skipped });
    expect(consumed.suites[0]!.declared).toEqual({ tests: 4, failures: 1, errors: 0, skipped: 1 });
  });

  it('sees the test file as the class where Node wrote classname="test"', () => {
    for (const name of ['adds item', 'removes item', 'always fails', 'not here']) expect(caseNamed(name).classname).toBe('cart.test.mjs');
    expect(caseNamed('fine').classname).toBe('pkg.Other');
  });

  it('reads a flaky test as passed with a flakyFailure whose message keeps its line breaks', () => {
    const c = caseNamed('adds item');
    expect(c.passed).toBe(true);
    expect(c.results).toEqual([]);
    expect(c.reruns).toHaveLength(1);
    const [flaky] = c.reruns;
    expect(flaky).toMatchObject({ kind: 'flakyFailure', type: 'testCodeFailure' });
    expect(flaky!.message).toContain('cart total\nwas wrong');
    expect(flaky!.stackTrace).toContain('AssertionError');
    expect(flaky!.systemOut).toContain('attempt 1');
    expect(flaky!.systemOut).toContain('w1');
  });

  it('reads a test failing every attempt as a failure plus a rerunFailure, messages multi-line', () => {
    const c = caseNamed('always fails');
    expect(c.passed).toBe(false);
    expect(c.results).toHaveLength(1);
    expect(c.results[0]).toMatchObject({ kind: 'failure', message: 'first line\nsecond line' });
    expect(c.results[0]!.text).toContain('second line');
    expect(c.reruns.map((r) => [r.kind, r.message])).toEqual([['rerunFailure', 'first line\nsecond line']]);
    expect(c.reruns[0]!.systemOut).toContain('w2');
  });

  it('reads skips and the synthetic case of a task that timed out', () => {
    expect(caseNamed('not here').skipped).toBe(true);
    const synthetic = caseNamed('t3 (shard 1/1)');
    expect(synthetic.classname).toBe('testudo.e2e');
    expect(synthetic.results[0]).toMatchObject({ kind: 'error', message: 'infrastructure failure: timeout', type: 'testudo.InfraFailure' });
  });

  it('fails on a planted report whose declared counts disagree with its cases', async () => {
    const xml = await readFile(xmlPath, 'utf8');
    const planted = join(dir, 'planted.xml');
    await writeFile(planted, xml.replace(/(<testsuite name="unit" tests=")(\d+)"/, (_m, head: string, n: string) => `${head}${Number(n) + 1}"`));
    const result = await consume(planted);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/suite unit declares .*'tests': 5.* but its cases count .*'tests': 4/);
  });
});
