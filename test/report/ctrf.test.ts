// The CTRF report against the format's published JSON schema (vendored in
// test/fixtures/ctrf with its source and licence).
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { describe, expect, it } from 'vitest';
import { buildCtrf, CTRF_SPEC_VERSION } from '../../src/report/ctrf.js';
import { mergeRun } from '../../src/report/merge.js';
import { attempt, runView, task, tc } from './fixtures.js';

const schema = JSON.parse(readFileSync('test/fixtures/ctrf/ctrf-schema-0.0.json', 'utf8')) as { $schema: string };

function validator(): ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  // The schema's formats, checked rather than ignored.
  ajv.addFormat('date-time', (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)));
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  ajv.addFormat('uri', (s: string) => URL.canParse(s));
  return ajv.compile(schema);
}

function mixedRun() {
  return runView(
    [
      task('t1', [
        attempt(1, 'failed', [tc('A', 'flaky', 'failed', { message: 'boom\nline 2' }), tc('A', 'bad', 'error'), tc('A', 'ok', 'passed', { file: 'test/a.test.ts' })], { workerId: 'w1' }),
        attempt(2, 'failed', [tc('A', 'flaky'), tc('A', 'bad', 'error'), tc('A', 'ok', 'passed', { file: 'test/a.test.ts' })], { workerId: 'w2' }),
      ]),
      task('t2', [attempt(1, 'passed', [tc('B', 'skip', 'skipped', { message: 'later' })])], { suite: 'e2e', matrix: { locale: 'fr' } }),
      task('t3', [attempt(1, 'infra-error', [], { infraClass: 'crash', resultReason: 'segfault' })], { suite: 'e2e', reason: 'retries exhausted' }),
    ],
    { workers: { w1: { name: 'builder-1', httpAddress: '127.0.0.1:9201' } } },
  );
}

describe('CTRF report', () => {
  const validate = validator();

  it('is valid against the published schema', () => {
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const doc = buildCtrf(mergeRun(mixedRun()), { workerName: (id) => (id === 'w1' ? 'builder-1' : id) });
    expect(validate(doc), JSON.stringify(validate.errors, null, 2)).toBe(true);
    // Also once written and read back as JSON.
    expect(validate(JSON.parse(JSON.stringify(doc)))).toBe(true);
  });

  it('carries the counts, statuses, retries and flaky marks of the merged report', () => {
    const run = mixedRun();
    const merged = mergeRun(run);
    const doc = buildCtrf(merged);
    expect(doc.reportFormat).toBe('CTRF');
    expect(doc.specVersion).toBe(CTRF_SPEC_VERSION);
    expect(doc.results.summary).toMatchObject({ tests: 5, passed: 2, failed: 2, skipped: 1, pending: 0, other: 0, flaky: 1, suites: 3 });
    expect(doc.results.summary.stop - doc.results.summary.start).toBe(600_000);
    const byName = new Map(doc.results.tests.map((t) => [t.name, t]));
    expect(byName.get('flaky')).toMatchObject({ status: 'passed', flaky: true, retries: 1, threadId: 'w2', suite: ['unit', 'A'] });
    expect(byName.get('flaky')?.retryAttempts).toEqual([{ attempt: 1, attemptId: expect.any(String) as string, status: 'failed', duration: 500, message: 'boom\nline 2', trace: 'stack of flaky' }]);
    expect(byName.get('bad')).toMatchObject({ status: 'failed', rawStatus: 'error', message: 'bad error', retries: 1 });
    expect(byName.get('ok')).toMatchObject({ filePath: 'test/a.test.ts', duration: 500, flaky: false });
    expect(byName.get('t3 (shard 1/1)')).toMatchObject({ status: 'failed', rawStatus: 'error', message: 'retries exhausted', extra: { testudo: { synthetic: true } } });
    const failedInSummary = doc.results.tests.filter((t) => t.status === 'failed').length;
    expect(failedInSummary).toBe(merged.counts.failed + merged.counts.errors);
  });

  it('is refused by the schema when planted with a bad status or a missing field', () => {
    const doc = JSON.parse(JSON.stringify(buildCtrf(mergeRun(mixedRun())))) as { results: { tests: Array<Record<string, unknown>>; summary: Record<string, unknown> } };
    doc.results.tests[0]!['status'] = 'error';
    expect(validate(doc)).toBe(false);
    const missing = JSON.parse(JSON.stringify(buildCtrf(mergeRun(mixedRun())))) as { results: { summary: Record<string, unknown> } };
    delete missing.results.summary['pending'];
    expect(validate(missing)).toBe(false);
    const badTime = JSON.parse(JSON.stringify(buildCtrf(mergeRun(mixedRun())))) as Record<string, unknown>;
    badTime['timestamp'] = 'yesterday';
    expect(validate(badTime)).toBe(false);
  });
});
