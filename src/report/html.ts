// The self-contained HTML report: inline CSS and script, nothing loaded from
// the network (the only URLs are links to attempt logs on the workers).
import type { RunView } from '../model/types.js';
import { flakinessKey } from '../model/types.js';
import type { MergedReport, MergedRun, MergedTest } from './merge.js';
import { statusWord } from './markdown.js';
import type { RunReportJson } from './summary.js';
import { buildTimeline, type Timeline, type TimelineBar } from './timeline.js';
import { workerDirectory, type LogScheme, type WorkerDirectory } from './workers.js';
import { escapeHtml as h } from './xml-escape.js';

const STYLE = `
:root{--pass:#1a7f37;--fail:#cf222e;--err:#bc4c00;--skip:#6e7781;--flaky:#9a6700;--bg:#fff;--fg:#1f2328;--muted:#656d76;--line:#d0d7de}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:24px;color:var(--fg);background:var(--bg)}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}.muted{color:var(--muted)}
.state{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-size:13px;vertical-align:middle}
.state-passed{background:var(--pass)}.state-failed{background:var(--fail)}.state-cancelled,.state-running{background:var(--skip)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}.card{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:96px}
.card b{display:block;font-size:20px}table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}td.num,th.num{text-align:right}
.s{font-weight:600;text-transform:uppercase;font-size:12px}.s-passed{color:var(--pass)}.s-failed{color:var(--fail)}.s-error{color:var(--err)}.s-skipped{color:var(--skip)}
.badge{display:inline-block;margin-left:6px;padding:0 6px;border-radius:8px;font-size:11px;background:var(--flaky);color:#fff}
.badge.task{background:var(--skip)}
.filters{display:flex;flex-wrap:wrap;gap:6px;align-items:center;margin-bottom:8px}
.filters button{border:1px solid var(--line);background:#f6f8fa;border-radius:6px;padding:4px 10px;cursor:pointer}
.filters button.on{background:var(--fg);color:#fff}.filters input{padding:4px 8px;border:1px solid var(--line);border-radius:6px;min-width:260px}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;border-radius:6px;max-height:420px;overflow:auto;margin:4px 0}
details summary{cursor:pointer}.attempt{margin:6px 0 10px}.name{word-break:break-all}.msg{white-space:pre-wrap}
details.group{border:1px solid var(--line);border-radius:6px;margin:6px 0;padding:4px 8px}details.group>summary{font-weight:600}
.timeline{width:100%;height:auto;border:1px solid var(--line);border-radius:6px}.timeline text{font-size:11px;fill:var(--fg)}
.bar-passed{fill:var(--pass)}.bar-failed{fill:var(--fail)}.bar-infra-error{fill:var(--err)}.bar-lost,.bar-cancelled{fill:var(--skip)}.bar-running{fill:#0969da}
.meter{display:inline-block;width:120px;height:10px;background:#eaeef2;border-radius:5px;vertical-align:middle;overflow:hidden}.meter span{display:block;height:100%;background:var(--flaky)}
`;

const SCRIPT = `
(function(){
  var rows=[].slice.call(document.querySelectorAll('#tests tbody tr'));
  var groups=[].slice.call(document.querySelectorAll('#tests details.group'));
  var buttons=[].slice.call(document.querySelectorAll('.filters button'));
  var search=document.getElementById('search');
  var shown=document.getElementById('shown');
  var filter='all';
  function apply(){
    var q=(search.value||'').toLowerCase();var n=0;
    rows.forEach(function(r){
      var st=r.getAttribute('data-status');var fl=r.getAttribute('data-flaky')==='1';
      var ok=filter==='all'||(filter==='flaky'?fl:(filter==='failing'?(st==='failed'||st==='error'):st===filter));
      if(ok&&q){ok=r.getAttribute('data-search').indexOf(q)>=0;}
      r.style.display=ok?'':'none';if(ok)n++;
    });
    shown.textContent=String(n);
    groups.forEach(function(g){
      var any=[].slice.call(g.querySelectorAll('tbody tr')).some(function(r){return r.style.display!=='none';});
      g.style.display=any?'':'none';
    });
  }
  buttons.forEach(function(b){b.addEventListener('click',function(){
    filter=b.getAttribute('data-filter');buttons.forEach(function(x){x.classList.toggle('on',x===b);});apply();
  });});
  search.addEventListener('input',apply);
  apply();
})();
`;

export interface HtmlOptions {
  /** The run the report is about: its attempts make the timeline, its workers' names and its flakiness history are shown. */
  readonly run?: RunView;
  /** `https` when the workers serve their logs over TLS (default `http`). */
  readonly logScheme?: LogScheme;
}

/** What the report's parts need besides the summary and the merged tests. */
interface Context {
  readonly workers: WorkerDirectory;
  readonly run: RunView | undefined;
  /** The suite (without matrix cell) of each task: the flakiness history's key. */
  readonly suiteOfTask: ReadonlyMap<string, string>;
}

function sec(n: number | null): string {
  return n === null ? '–' : `${n.toFixed(3)}s`;
}

function isFailing(t: MergedTest): boolean {
  return t.status === 'failed' || t.status === 'error';
}

function statusOrder(t: MergedTest): number {
  if (isFailing(t)) return 0;
  if (t.flaky) return 1;
  if (t.status === 'passed') return 2;
  return 3;
}

function workerCell(ctx: Context, workerId: string): string {
  const name = ctx.workers.name(workerId || '?');
  return name === workerId || workerId === '' ? h(name) : `<span title="${h(workerId)}">${h(name)}</span>`;
}

function logLink(ctx: Context, workerId: string, attemptId: string, label = 'log'): string {
  const url = ctx.workers.logUrl(workerId, attemptId);
  return url === '' ? '' : ` <a href="${h(url)}" rel="noopener">${h(label)}</a>`;
}

function renderRun(ctx: Context, r: MergedRun): string {
  const head =
    `Attempt ${r.attemptNumber} on ${workerCell(ctx, r.workerId)}: <span class="s s-${h(r.status)}">${h(r.status)}</span> in ${sec(r.timeSec)}` +
    logLink(ctx, r.workerId, r.attemptId);
  const msg = r.message !== '' ? `<div class="msg"><b>${r.type !== '' ? h(r.type) + ': ' : ''}</b>${h(r.message)}</div>` : '';
  const details = r.details !== '' ? `<pre>${h(r.details)}</pre>` : '';
  return `<div class="attempt">${head}${msg}${details}</div>`;
}

function flakinessLine(ctx: Context, test: MergedTest): string {
  const key = flakinessKey(ctx.suiteOfTask.get(test.taskId) ?? test.suite, test.id);
  const record = ctx.run?.flakinessHistory?.[key];
  const rate = ctx.run?.flakiness[key];
  if (record !== undefined && record.runs > 0) {
    const pct = (100 * record.flaky) / record.runs;
    return (
      `<div class="flake-history">History: flaky in ${record.flaky} of ${record.runs} recorded runs (${pct.toFixed(1)}%) ` +
      `<span class="meter" title="${pct.toFixed(1)}%"><span style="width:${pct.toFixed(1)}%"></span></span></div>`
    );
  }
  if (rate !== undefined) return `<div class="flake-history">History: flakiness rate ${(rate * 100).toFixed(1)}%</div>`;
  return '<div class="flake-history muted">History: no record yet</div>';
}

/** Within its group a test is named without the group's own name (its file or class). */
function shownName(test: MergedTest): string {
  return test.classname === groupOf(test) ? test.name : `${test.classname}::${test.name}`;
}

function renderTestRow(ctx: Context, test: MergedTest): string {
  const expandable = isFailing(test) || test.flaky;
  const badges = `${test.flaky ? '<span class="badge">flaky</span>' : ''}${test.synthetic ? '<span class="badge task">task</span>' : ''}`;
  const name = `<span class="name" title="${h(test.id)}">${h(shownName(test))}</span>${badges}`;
  const body = `${test.flaky ? flakinessLine(ctx, test) : ''}${test.runs.map((r) => renderRun(ctx, r)).join('')}`;
  // Failures are open from the start; flaky tests are one click away.
  const cell = expandable ? `<details${isFailing(test) ? ' open' : ''}><summary>${name}</summary>${body}</details>` : name;
  const searchText = `${test.id} ${test.classname} ${test.suite} ${test.file} ${test.taskId}`.toLowerCase();
  return (
    `<tr data-status="${h(test.status)}" data-flaky="${test.flaky ? '1' : '0'}" data-search="${h(searchText)}">` +
    `<td class="s s-${h(test.status)}">${h(test.status)}</td><td>${cell}</td><td>${h(test.suite)}</td>` +
    `<td class="num">${sec(test.timeSec)}</td><td class="num">${test.runs.length}</td></tr>`
  );
}

function table(head: readonly string[], rows: readonly string[][], numeric: ReadonlySet<number> = new Set()): string {
  const th = head.map((c, i) => `<th${numeric.has(i) ? ' class="num"' : ''}>${h(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.has(i) ? ' class="num"' : ''}>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** The group a test is listed under: its file, else its class (see docs/reports.md). */
function groupOf(test: MergedTest): string {
  return test.file !== '' ? test.file : test.classname !== '' ? test.classname : test.suite;
}

/** Tests grouped by file, groups with failures first (and open), each sorted failures first. */
function renderGroups(ctx: Context, tests: readonly MergedTest[]): string[] {
  const groups = new Map<string, Array<{ test: MergedTest; i: number }>>();
  tests.forEach((test, i) => {
    const key = groupOf(test);
    const list = groups.get(key) ?? [];
    list.push({ test, i });
    groups.set(key, list);
  });
  const rank = (list: ReadonlyArray<{ test: MergedTest }>): number => Math.min(...list.map((x) => statusOrder(x.test)));
  const ordered = [...groups].sort(([, a], [, b]) => rank(a) - rank(b));
  const head = '<table><thead><tr><th>Status</th><th>Test</th><th>Suite</th><th class="num">Time</th><th class="num">Runs</th></tr></thead><tbody>';
  return ordered.map(([key, list]) => {
    const failing = list.filter((x) => isFailing(x.test)).length;
    const flaky = list.filter((x) => x.test.flaky).length;
    const note = [`${list.length} tests`, failing > 0 ? `${failing} failing` : '', flaky > 0 ? `${flaky} flaky` : ''].filter((x) => x !== '').join(', ');
    const rows = [...list].sort((a, b) => statusOrder(a.test) - statusOrder(b.test) || a.i - b.i).map((x) => renderTestRow(ctx, x.test));
    return `<details class="group"${failing > 0 ? ' open' : ''}><summary>${h(key)} <span class="muted">(${h(note)})</span></summary>${head}\n${rows.join('\n')}\n</tbody></table></details>`;
  });
}

const LANE_ROW_PX = 16;
const LABEL_PX = 170;
const CHART_PX = 1000;

function barTitle(ctx: Context, workerId: string, bar: TimelineBar): string {
  const shard = bar.shardCount > 1 ? ` shard ${bar.shard}/${bar.shardCount}` : '';
  return `${bar.taskId} (${bar.suite}${shard}) attempt ${bar.number} on ${ctx.workers.name(workerId)}: ${bar.state}, ${((bar.endMs - bar.startMs) / 1000).toFixed(1)}s`;
}

/** The run's Gantt chart as inline SVG: one lane per worker, one bar per attempt, each linking to its log. */
function renderTimeline(ctx: Context, timeline: Timeline): string {
  const span = Math.max(1, timeline.spanMs);
  const x = (ms: number): number => LABEL_PX + Math.round(((CHART_PX - LABEL_PX - 10) * ms) / span);
  const parts: string[] = [];
  let y = 20;
  for (const lane of timeline.lanes) {
    const height = lane.rows * LANE_ROW_PX;
    parts.push(`<text x="4" y="${y + Math.min(height, LANE_ROW_PX) - 4}">${h(ctx.workers.name(lane.workerId || '?'))}</text>`);
    parts.push(`<line x1="0" x2="${CHART_PX}" y1="${y + height + 2}" y2="${y + height + 2}" stroke="#d0d7de"/>`);
    for (const bar of lane.bars) {
      const width = Math.max(2, x(bar.endMs) - x(bar.startMs));
      const rect = `<rect class="bar-${h(bar.state)}" x="${x(bar.startMs)}" y="${y + bar.row * LANE_ROW_PX + 1}" width="${width}" height="${LANE_ROW_PX - 3}" rx="2"><title>${h(barTitle(ctx, lane.workerId, bar))}</title></rect>`;
      const url = ctx.workers.logUrl(lane.workerId, bar.attemptId);
      parts.push(url === '' ? rect : `<a href="${h(url)}">${rect}</a>`);
    }
    y += height + 4;
  }
  for (let i = 0; i <= 4; i++) {
    const ms = (span * i) / 4;
    parts.push(`<text x="${x(ms)}" y="12" text-anchor="${i === 0 ? 'start' : i === 4 ? 'end' : 'middle'}">${(ms / 1000).toFixed(1)}s</text>`);
  }
  const note = timeline.omitted > 0 ? `<p class="muted">${timeline.omitted} later attempts are not drawn.</p>` : '';
  return (
    `<svg class="timeline" viewBox="0 0 ${CHART_PX} ${y + 4}" role="img" aria-label="Attempts per worker over time">${parts.join('')}</svg>` +
    `<p class="muted">Each bar is an attempt, from its start to its end on the worker (clock of the worker; lost and cancelled attempts: from assignment). Click a bar for its log.</p>${note}`
  );
}

function renderHeader(summary: RunReportJson): string[] {
  const t = summary.totals;
  const cards: Array<[string, string | number]> = [
    ['Tests', t.tests],
    ['Passed', t.passed],
    ['Failed', t.failed],
    ['Errors', t.errors],
    ['Skipped', t.skipped],
    ['Flaky', t.flaky],
    ['Tasks', t.tasks],
    ['Tasks failed', t.tasksFailed],
    ['Infra failures', t.tasksFailedInfra],
    ['Cancelled', t.tasksCancelled],
    ['Attempts', t.attempts],
    ['Retries', t.retries],
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Testudo: ${h(summary.name)} (${statusWord(summary.state)})</title>`,
    `<style>${STYLE}</style></head><body>`,
    `<h1>${h(summary.name)} <span class="state state-${h(summary.state)}">${statusWord(summary.state)}</span></h1>`,
    `<div class="muted">Run ${h(summary.runId)} · submitted ${h(summary.submittedAt)}` +
      (summary.finishedAt !== null ? ` · finished ${h(summary.finishedAt)} · ${sec(summary.durationSec)}` : ' · not finished') +
      '</div>',
    `<div class="cards">${cards.map(([k, v]) => `<div class="card"><b>${h(String(v))}</b>${h(k)}</div>`).join('')}</div>`,
  ];
}

function renderTests(ctx: Context, tests: readonly MergedTest[]): string[] {
  const count = (pred: (x: MergedTest) => boolean): number => tests.filter(pred).length;
  const filters: Array<[string, string, number]> = [
    ['all', 'All', tests.length],
    ['failing', 'Failed + errors', count(isFailing)],
    ['failed', 'Failed', count((x) => x.status === 'failed')],
    ['error', 'Errors', count((x) => x.status === 'error')],
    ['flaky', 'Flaky', count((x) => x.flaky)],
    ['passed', 'Passed', count((x) => x.status === 'passed')],
    ['skipped', 'Skipped', count((x) => x.status === 'skipped')],
  ];
  return [
    '<h2>Tests by file</h2>',
    '<div class="filters">' +
      filters.map(([f, label, n], i) => `<button type="button" data-filter="${f}"${i === 0 ? ' class="on"' : ''}>${h(label)} (${n})</button>`).join('') +
      '<input id="search" type="search" placeholder="Filter by name, suite, file or task" aria-label="Filter tests">' +
      '<span class="muted"><span id="shown"></span> shown</span></div>',
    `<div id="tests">`,
    ...renderGroups(ctx, tests),
    '</div>',
  ];
}

function renderFlaky(ctx: Context, tests: readonly MergedTest[]): string[] {
  const flaky = tests.filter((t) => t.flaky);
  if (flaky.length === 0) return [];
  const rows = flaky.map((t) => [
    `<span class="name" title="${h(t.id)}">${h(`${t.classname}::${t.name}`)}</span>`,
    h(t.suite),
    t.runs.map((r) => `<span class="s s-${h(r.status)}" title="attempt ${r.attemptNumber} on ${h(ctx.workers.name(r.workerId))}">${h(r.status[0] ?? '')}</span>`).join(' '),
    flakinessLine(ctx, t),
  ]);
  return ['<h2>Flaky tests</h2>', '<p class="muted">Passed after failing in an earlier attempt (counted as passed). The history is the cluster\'s replicated record of the test\'s runs.</p>', table(['Test', 'Suite', 'This run', 'History'], rows)];
}

function renderTables(ctx: Context, summary: RunReportJson): string[] {
  const out: string[] = [];
  if (summary.infraFailures.length > 0) {
    out.push('<h2>Infrastructure failures</h2>');
    const rows = summary.infraFailures.map((f) => [
      h(f.taskId),
      h(f.suite),
      h(f.reason),
      f.attempts.map((a) => `#${a.number} ${workerCell(ctx, a.workerId)}: ${h(a.infraClass || a.state)}${a.reason ? ` (${h(a.reason)})` : ''}${logLink(ctx, a.workerId, a.attemptId)}`).join('<br>'),
    ]);
    out.push(table(['Task', 'Suite', 'Reason', 'Attempts'], rows));
  }
  out.push('<h2>Suites</h2>');
  out.push(
    table(
      ['Suite', 'Tests', 'Passed', 'Failed', 'Errors', 'Flaky', 'Skipped', 'Tasks', 'Time'],
      summary.perSuite.map((s) => [h(s.suite), ...[s.tests, s.passed, s.failed, s.errors, s.flaky, s.skipped, s.tasks].map(String), sec(s.durationSec)]),
      new Set([1, 2, 3, 4, 5, 6, 7, 8]),
    ),
  );
  out.push('<h2>Workers</h2>');
  out.push(
    table(
      ['Worker', 'Attempts', 'Passed', 'Failed', 'Infra errors', 'Lost', 'Cancelled', 'Busy'],
      summary.perWorker.map((w) => [workerCell(ctx, w.workerId), ...[w.attempts, w.passed, w.failed, w.infraErrors, w.lost, w.cancelled].map(String), sec(w.busySec)]),
      new Set([1, 2, 3, 4, 5, 6, 7]),
    ),
  );
  if (summary.slowestTasks.length > 0) {
    out.push('<h2>Slowest tasks</h2>');
    const rows = summary.slowestTasks.map((s) => [h(s.taskId), h(s.suite), `${s.shard}/${s.shardCount}`, h(s.state), workerCell(ctx, s.workerId), String(s.attempts), sec(s.durationSec)]);
    out.push(table(['Task', 'Suite', 'Shard', 'State', 'Worker', 'Attempts', 'Time'], rows, new Set([5, 6])));
  }
  const d = summary.durations;
  out.push('<h2>Durations</h2>');
  const stats = ([['Tasks', d.tasks], ['Tests', d.tests]] as const).map(([k, s]) => [k, String(s.count), sec(s.minSec), sec(s.p50Sec), sec(s.p90Sec), sec(s.p99Sec), sec(s.maxSec), sec(s.meanSec)]);
  out.push(table(['', 'Count', 'Min', 'p50', 'p90', 'p99', 'Max', 'Mean'], stats, new Set([1, 2, 3, 4, 5, 6, 7])));
  return out;
}

/**
 * Renders the self-contained HTML report. All user text is escaped. With
 * `options.run` it also draws the timeline of attempts per worker, names
 * workers and links each attempt to its log.
 */
export function renderHtml(summary: RunReportJson, merged: MergedReport, options: HtmlOptions = {}): string {
  const run = options.run;
  const ctx: Context = {
    workers: workerDirectory(run, options.logScheme),
    run,
    suiteOfTask: new Map((run?.tasks ?? []).map((task) => [task.taskId, task.template.suite])),
  };
  const tests = merged.suites.flatMap((s) => s.tests);
  const out = [...renderHeader(summary), ...renderTests(ctx, tests), ...renderFlaky(ctx, tests)];
  if (run !== undefined && run.tasks.some((t) => t.attempts.length > 0)) {
    out.push('<h2>Timeline</h2>', renderTimeline(ctx, buildTimeline(run)));
  }
  out.push(...renderTables(ctx, summary));
  out.push(`<script>${SCRIPT}</script>`, '</body></html>', '');
  return out.join('\n');
}
