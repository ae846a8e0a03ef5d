// The HTML report's run-level parts: failures open, tests grouped by file,
// the timeline of attempts per worker, worker names, log links and the
// flakiness history.
import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/report/html.js';
import { mergeRun } from '../../src/report/merge.js';
import { buildSummary } from '../../src/report/summary.js';
import { buildTimeline, timelineBarsMax } from '../../src/report/timeline.js';
import { attempt, runView, task, tc } from './fixtures.js';

function run() {
  return runView(
    [
      task('t1', [
        attempt(1, 'failed', [tc('test', 'adds', 'failed', { file: 'cart.test.js' }), tc('test', 'lists', 'passed', { file: 'list.test.js' })], { workerId: 'w1', startedAtMs: 1_000_000, finishedAtMs: 1_004_000 }),
        attempt(2, 'passed', [tc('test', 'adds', 'passed', { file: 'cart.test.js' }), tc('test', 'lists', 'passed', { file: 'list.test.js' })], { workerId: 'w2', startedAtMs: 1_005_000, finishedAtMs: 1_008_000 }),
      ]),
      task('t2', [attempt(1, 'failed', [tc('test', 'pays', 'failed', { file: 'pay.test.js' })], { workerId: 'w1', startedAtMs: 1_001_000, finishedAtMs: 1_003_000 })]),
      task('t3', [attempt(1, 'lost', [], { workerId: 'w3' }), attempt(2, 'passed', [tc('test', 'other', 'passed')], { workerId: 'w2' })], { suite: 'e2e' }),
    ],
    {
      flakiness: { 'unit/test::adds': 0.25 },
      flakinessHistory: { 'unit/test::adds': { runs: 8, flaky: 2 } },
      workers: { w1: { name: 'builder-one', httpAddress: '127.0.0.1:9201' }, w2: { name: 'builder-two', httpAddress: '' } },
    },
  );
}

function render(view = run()): string {
  const merged = mergeRun(view);
  return renderHtml(buildSummary(view, merged), merged, { run: view });
}

describe('HTML report', () => {
  it('groups tests by file, failing groups first and open, failures open by default', () => {
    const html = render();
    const groups = [...html.matchAll(/<details class="group"( open)?><summary>([^<]*) /g)].map((m) => [m[2], m[1] === ' open']);
    expect(groups[0]).toEqual(['pay.test.js', true]);
    expect(groups).toContainEqual(['cart.test.js', false]);
    expect(groups).toContainEqual(['list.test.js', false]);
    // Named within the file's group by the test's name; its id is the tooltip.
    expect(html).toContain('<details open><summary><span class="name" title="test::pays">pays</span>');
    expect(html).toContain('<details><summary><span class="name" title="test::adds">adds</span><span class="badge">flaky</span>');
  });

  it('names workers and links each reported attempt to its log on the worker', () => {
    const html = render();
    expect(html).toContain('<span title="w1">builder-one</span>');
    expect(html).toContain('href="http://127.0.0.1:9201/logs/');
    // w2 serves no logs and w3 is unknown: no link, the id stands in for the name.
    expect(html).not.toMatch(/href="[^"]*\/\/\/logs/);
    expect(html).toContain('>w3<');
    // Nothing is loaded from anywhere: links only.
    expect(html).not.toMatch(/<link|<script src|<img|<iframe|@import|url\(/i);
    for (const m of html.matchAll(/https?:\/\/[^"]*/g)) expect(m[0]).toMatch(/^http:\/\/127\.0\.0\.1:9201\/logs\/a\d+$/);
    expect(renderHtml(buildSummary(run(), mergeRun(run())), mergeRun(run()), { run: run(), logScheme: 'https' })).toContain('href="https://127.0.0.1:9201/logs/');
  });

  it('shows the flakiness history of each flaky test from the run view', () => {
    const html = render();
    expect(html).toContain('<h2>Flaky tests</h2>');
    expect(html).toContain('flaky in 2 of 8 recorded runs (25.0%)');
    const noHistory = runView(run().tasks, { flakiness: { 'unit/test::adds': 0.5 } });
    expect(render(noHistory)).toContain('flakiness rate 50.0%');
  });

  it('draws a timeline lane per worker with a bar per attempt', () => {
    const view = run();
    const timeline = buildTimeline(view);
    expect(timeline.lanes.map((l) => l.workerId)).toEqual(['w1', 'w2', 'w3']);
    const w1 = timeline.lanes[0]!;
    // t1 a1 and t2 a1 overlap on w1: two rows.
    expect(w1.rows).toBe(2);
    expect(w1.bars.map((b) => [b.taskId, b.row, b.endMs - b.startMs])).toEqual([
      ['t1', 0, 4000],
      ['t2', 1, 2000],
    ]);
    expect(timeline.lanes[2]!.bars[0]).toMatchObject({ taskId: 't3', state: 'lost' });
    const html = render(view);
    expect(html).toContain('<h2>Timeline</h2>');
    expect(html.match(/<rect class="bar-/g)).toHaveLength(5);
    expect(html).toMatch(/<a href="http:\/\/127\.0\.0\.1:9201\/logs\/a\d+"><rect class="bar-failed"/);
    expect(html).toMatch(/<title>t1 \(unit\) attempt 2 on builder-two: passed, 3\.0s<\/title>/);
  });

  it('bounds the timeline to timelineBarsMax bars', () => {
    const tasks = Array.from({ length: timelineBarsMax + 5 }, (_, i) => task(`t${i}`, [attempt(1, 'passed', [tc('A', `x${i}`)])]));
    const timeline = buildTimeline(runView(tasks));
    expect(timeline.lanes.reduce((n, l) => n + l.bars.length, 0)).toBe(timelineBarsMax);
    expect(timeline.omitted).toBe(5);
  });
});
