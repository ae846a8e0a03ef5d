// The self-contained HTML report: inline CSS and script, no external URLs.
import type { MergedReport, MergedTest } from './merge.js';
import { statusWord } from './markdown.js';
import type { RunReportJson } from './summary.js';
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
details summary{cursor:pointer}.attempt{margin:6px 0 10px}.name{word-break:break-all}
`;

const SCRIPT = `
(function(){
  var rows=[].slice.call(document.querySelectorAll('#tests tbody tr'));
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
  }
  buttons.forEach(function(b){b.addEventListener('click',function(){
    filter=b.getAttribute('data-filter');buttons.forEach(function(x){x.classList.toggle('on',x===b);});apply();
  });});
  search.addEventListener('input',apply);
  apply();
})();
`;

function sec(n: number | null): string {
  return n === null ? '–' : `${n.toFixed(3)}s`;
}

function statusOrder(t: MergedTest): number {
  if (t.status === 'failed' || t.status === 'error') return 0;
  if (t.flaky) return 1;
  if (t.status === 'passed') return 2;
  return 3;
}

function renderAttempts(test: MergedTest): string {
  const parts = test.runs.map((r) => {
    const head = `Attempt ${r.attemptNumber} on ${h(r.workerId || '?')}: <span class="s s-${h(r.status)}">${h(r.status)}</span> in ${sec(r.timeSec)}`;
    const msg = r.message !== '' ? `<div><b>${r.type !== '' ? h(r.type) + ': ' : ''}</b>${h(r.message)}</div>` : '';
    const details = r.details !== '' ? `<pre>${h(r.details)}</pre>` : '';
    return `<div class="attempt">${head}${msg}${details}</div>`;
  });
  return parts.join('');
}

function renderTestRow(test: MergedTest): string {
  const expandable = test.status === 'failed' || test.status === 'error' || test.flaky;
  const badges = `${test.flaky ? '<span class="badge">flaky</span>' : ''}${test.synthetic ? '<span class="badge task">task</span>' : ''}`;
  const name = `<span class="name">${h(test.id)}</span>${badges}`;
  const cell = expandable ? `<details><summary>${name}</summary>${renderAttempts(test)}</details>` : name;
  const searchText = `${test.id} ${test.suite} ${test.file} ${test.taskId}`.toLowerCase();
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

/** Renders the self-contained HTML report. All user text is escaped. */
export function renderHtml(summary: RunReportJson, merged: MergedReport): string {
  const t = summary.totals;
  const tests = merged.suites.flatMap((s) => s.tests);
  const ordered = tests.map((test, i) => ({ test, i })).sort((a, b) => statusOrder(a.test) - statusOrder(b.test) || a.i - b.i);
  const count = (pred: (x: MergedTest) => boolean): number => tests.filter(pred).length;
  const filters: Array<[string, string, number]> = [
    ['all', 'All', tests.length],
    ['failing', 'Failed + errors', count((x) => x.status === 'failed' || x.status === 'error')],
    ['failed', 'Failed', count((x) => x.status === 'failed')],
    ['error', 'Errors', count((x) => x.status === 'error')],
    ['flaky', 'Flaky', count((x) => x.flaky)],
    ['passed', 'Passed', count((x) => x.status === 'passed')],
    ['skipped', 'Skipped', count((x) => x.status === 'skipped')],
  ];
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
  const out: string[] = [];
  out.push('<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">');
  out.push('<meta name="viewport" content="width=device-width, initial-scale=1">');
  out.push(`<title>Testudo: ${h(summary.name)} (${statusWord(summary.state)})</title>`);
  out.push(`<style>${STYLE}</style></head><body>`);
  out.push(`<h1>${h(summary.name)} <span class="state state-${h(summary.state)}">${statusWord(summary.state)}</span></h1>`);
  out.push(
    `<div class="muted">Run ${h(summary.runId)} · submitted ${h(summary.submittedAt)}` +
      (summary.finishedAt !== null ? ` · finished ${h(summary.finishedAt)} · ${sec(summary.durationSec)}` : ' · not finished') +
      '</div>',
  );
  out.push(`<div class="cards">${cards.map(([k, v]) => `<div class="card"><b>${h(String(v))}</b>${h(k)}</div>`).join('')}</div>`);

  out.push('<h2>Tests</h2>');
  out.push(
    '<div class="filters">' +
      filters.map(([f, label, n], i) => `<button type="button" data-filter="${f}"${i === 0 ? ' class="on"' : ''}>${h(label)} (${n})</button>`).join('') +
      '<input id="search" type="search" placeholder="Filter by name, suite, file or task" aria-label="Filter tests">' +
      '<span class="muted"><span id="shown"></span> shown</span></div>',
  );
  out.push(
    `<table id="tests"><thead><tr><th>Status</th><th>Test</th><th>Suite</th><th class="num">Time</th><th class="num">Runs</th></tr></thead><tbody>`,
  );
  for (const { test } of ordered) out.push(renderTestRow(test));
  out.push('</tbody></table>');

  if (summary.infraFailures.length > 0) {
    out.push('<h2>Infrastructure failures</h2>');
    out.push(
      table(
        ['Task', 'Suite', 'Reason', 'Attempts'],
        summary.infraFailures.map((f) => [
          h(f.taskId),
          h(f.suite),
          h(f.reason),
          f.attempts.map((a) => `#${a.number} ${h(a.workerId || '?')}: ${h(a.infraClass || a.state)}${a.reason ? ` (${h(a.reason)})` : ''}`).join('<br>'),
        ]),
      ),
    );
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
      summary.perWorker.map((w) => [h(w.workerId || '?'), ...[w.attempts, w.passed, w.failed, w.infraErrors, w.lost, w.cancelled].map(String), sec(w.busySec)]),
      new Set([1, 2, 3, 4, 5, 6, 7]),
    ),
  );

  if (summary.slowestTasks.length > 0) {
    out.push('<h2>Slowest tasks</h2>');
    out.push(
      table(
        ['Task', 'Suite', 'Shard', 'State', 'Worker', 'Attempts', 'Time'],
        summary.slowestTasks.map((s) => [h(s.taskId), h(s.suite), `${s.shard}/${s.shardCount}`, h(s.state), h(s.workerId), String(s.attempts), sec(s.durationSec)]),
        new Set([5, 6]),
      ),
    );
  }
  const d = summary.durations;
  out.push('<h2>Durations</h2>');
  out.push(
    table(
      ['', 'Count', 'Min', 'p50', 'p90', 'p99', 'Max', 'Mean'],
      (
        [
          ['Tasks', d.tasks],
          ['Tests', d.tests],
        ] as const
      ).map(([k, s]) => [k, String(s.count), sec(s.minSec), sec(s.p50Sec), sec(s.p90Sec), sec(s.p99Sec), sec(s.maxSec), sec(s.meanSec)]),
      new Set([1, 2, 3, 4, 5, 6, 7]),
    ),
  );
  out.push(`<script>${SCRIPT}</script>`);
  out.push('</body></html>', '');
  return out.join('\n');
}
