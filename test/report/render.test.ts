import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type {
  RunView,
} from '../../src/model/types.js';
import { attempt, runView, task, tc } from './fixtures.js';
import { renderHtml } from '../../src/report/html.js';
import { escapeMarkdownCell, MARKDOWN_MAX_BYTES, renderMarkdown } from '../../src/report/markdown.js';
import { mergeRun } from '../../src/report/merge.js';
import { buildSummary, type RunReportJson } from '../../src/report/summary.js';
import { writeReports } from '../../src/report/write-reports.js';


function summarize(run: RunView): RunReportJson {
  return buildSummary(run, mergeRun(run));
}

function mixedRun(): RunView {
  return runView(
    [
      task('t1', [
        attempt(1, 'failed', [tc('A', 'flaky', 'failed'), tc('A', 'bad', 'failed', { message: 'expected a | b\nbut got <c>' }), tc('A', 'ok', 'passed', { timeSec: 12 })]),
        attempt(2, 'failed', [tc('A', 'flaky'), tc('A', 'bad', 'failed', { message: 'expected a | b\nbut got <c>' }), tc('A', 'ok', 'passed', { timeSec: 12 })]),
      ]),
      task('t2', [attempt(1, 'infra-error', [], { infraClass: 'crash', resultReason: 'segfault' })], { suite: 'e2e', reason: 'retries exhausted' }),
    ],
    { flakiness: { 'unit/A::flaky': 0.125 } },
  );
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

describe('renderMarkdown', () => {
  it('renders the headline, totals, failures, flaky, infra, suites and slowest tests', () => {
    const md = renderMarkdown(summarize(mixedRun()));
    expect(md.split('\n')[0]).toBe('## Testudo run nightly: FAILED');
    expect(md).toContain('### Totals');
    expect(md).toContain('| 4 | 2 | 1 | 1 | 0 | 1 |');
    expect(md).toContain('### Failed tests (2)');
    expect(md).toContain('| A::bad | unit | failed | 2 | expected a \\| b but got &lt;c&gt; |');
    expect(md).toContain('### Flaky tests (1)');
    expect(md).toContain('| A::flaky | unit | 2 | 12.5% |');
    expect(md).toContain('### Infrastructure failures (1)');
    expect(md).toContain('segfault');
    expect(md).toContain('### Suites');
    expect(md).toContain('### Slowest tests');
    expect(md).toContain('| A::ok | unit | 12.0s |');
  });

  it('says PASSED and CANCELLED', () => {
    const passed = runView([task('t1', [attempt(1, 'passed', [tc('A', 'a')])])]);
    expect(renderMarkdown(summarize(passed))).toMatch(/^## Testudo run nightly: PASSED\n/);
    const cancelled = runView([task('t1', [], { state: 'cancelled' })], { state: 'cancelled' });
    expect(renderMarkdown(summarize(cancelled))).toMatch(/^## Testudo run nightly: CANCELLED\n/);
  });

  it('escapes cells and truncates long messages', () => {
    expect(escapeMarkdownCell('a|b')).toBe('a\\|b');
    expect(escapeMarkdownCell('<script>alert(1)</script>')).toBe('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(escapeMarkdownCell('x\r\ny\tz')).toBe('x y z');
    const long = escapeMarkdownCell('m'.repeat(1000));
    expect(long).toHaveLength(200);
    expect(long.endsWith('…')).toBe(true);
  });

  it('bounds the failed tests table to 50 rows', () => {
    const tests = Array.from({ length: 120 }, (_, i) => tc('F', `f${i}`, 'failed', { message: 'x'.repeat(500) }));
    const md = renderMarkdown(summarize(runView([task('t1', [attempt(1, 'failed', tests)])])));
    expect(md).toContain('### Failed tests (120)');
    expect(md.match(/^\| F::f\d+ \| unit \| failed \|/gm)).toHaveLength(50);
    expect(md).toContain('…and 70 more failed tests');
    expect(md).not.toContain('x'.repeat(300));
  });

  it('truncates to the size bound with a note', () => {
    // Many suites make the (unbounded) suite table large.
    const tasks = Array.from({ length: 3000 }, (_, i) =>
      task(`t${i}`, [attempt(1, 'passed', [tc('C', 'a')])], { suite: `suite-${i}-${'s'.repeat(40)}` }),
    );
    const md = renderMarkdown(summarize(runView(tasks)));
    expect(bytes(md)).toBeLessThanOrEqual(MARKDOWN_MAX_BYTES);
    expect(md).toContain('truncated');
    expect(md.startsWith('## Testudo run nightly: PASSED')).toBe(true);
    const small = renderMarkdown(summarize(mixedRun()), { maxBytes: 600 });
    expect(bytes(small)).toBeLessThanOrEqual(600);
    expect(small).toContain('truncated');
    expect(renderMarkdown(summarize(mixedRun()))).not.toContain('truncated');
  });
});

describe('renderHtml', () => {
  function nastyRun(): RunView {
    return runView(
      [
        task('t1', [
          attempt(1, 'failed', [tc('X', '<script>alert("x")</script>', 'failed', { message: '<img src=x onerror=alert(1)>', details: '</pre><script>bad()</script>' })]),
          attempt(2, 'failed', [tc('X', '<script>alert("x")</script>', 'failed', { message: 'again & again' })]),
        ], { suite: '<b>suite</b>' }),
        task('t2', [
          attempt(1, 'failed', [tc('Y', 'flaky', 'failed', { message: 'first run broke' })], { workerId: 'worker-"7"' }),
          attempt(2, 'passed', [tc('Y', 'flaky')]),
        ]),
      ],
      { name: '<i>run</i>' },
    );
  }

  it('escapes all user text, including <script> in test names', () => {
    const run = nastyRun();
    const merged = mergeRun(run);
    const html = renderHtml(buildSummary(run, merged), merged);
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<script>bad');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<i>run');
    expect(html).not.toContain('<b>suite');
    expect(html).toContain('title="X::&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</span>');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('&lt;/pre&gt;&lt;script&gt;bad()&lt;/script&gt;');
    expect(html).toContain('worker-&quot;7&quot;');
    // Exactly one script element: the report's own.
    expect(html.match(/<script>/g)).toHaveLength(1);
  });

  it('is self-contained, with filters, search, expandable failures and a flaky badge', () => {
    const run = nastyRun();
    const merged = mergeRun(run);
    const html = renderHtml(buildSummary(run, merged), merged);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<link|<script src|@import|url\(/i);
    expect(html).toContain('<style>');
    for (const f of ['all', 'failing', 'failed', 'error', 'flaky', 'passed', 'skipped']) expect(html).toContain(`data-filter="${f}"`);
    expect(html).toContain('id="search"');
    expect(html).toContain('<span class="badge">flaky</span>');
    expect(html).toContain('<details><summary>'); // flaky: closed
    expect(html).toContain('<details open><summary>'); // failing: open
    expect(html).toContain('Attempt 1 on');
    expect(html).toContain('Attempt 2 on');
    expect(html).toContain('first run broke');
    expect(html).toContain('<h2>Workers</h2>');
    expect(html).toContain('<h2>Suites</h2>');
  });
});

describe('writeReports', () => {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('writes the five reports into a new directory and returns their paths', async () => {
    const base = await mkdtemp(join(tmpdir(), 'testudo-report-'));
    dirs.push(base);
    const dir = join(base, 'nested', 'out');
    const paths = await writeReports(mixedRun(), dir);
    expect(paths).toEqual({
      junit: join(dir, 'testudo-report.xml'),
      json: join(dir, 'testudo-report.json'),
      markdown: join(dir, 'testudo-report.md'),
      html: join(dir, 'testudo-report.html'),
      ctrf: join(dir, 'testudo-report.ctrf.json'),
    });
    expect((await readdir(dir)).sort()).toEqual(['testudo-report.ctrf.json', 'testudo-report.html', 'testudo-report.json', 'testudo-report.md', 'testudo-report.xml']);
    const json = JSON.parse(await readFile(paths.json, 'utf8')) as RunReportJson;
    expect(json.schemaVersion).toBe(1);
    expect(json.totals.tests).toBe(4);
    expect(await readFile(paths.junit, 'utf8')).toContain('<testsuites');
    expect(await readFile(paths.markdown, 'utf8')).toContain('FAILED');
    expect(await readFile(paths.html, 'utf8')).toContain('<!DOCTYPE html>');

    const again = await writeReports(mixedRun(), dir, { basename: 'custom' });
    expect(again.junit).toBe(join(dir, 'custom.xml'));
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await expect(writeReports(mixedRun(), dir, { basename: '../x' })).rejects.toThrow(/basename/);
  });
});
