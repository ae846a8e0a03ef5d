/**
 * The Markdown report of `testudo chaos bench` (both modes side by side) and
 * of `testudo chaos run` (one mode). Pure: no I/O, no clock; the CLI writes
 * the text where it wants it.
 */
import { escapeMarkdownCell } from '../../report/markdown.js';
import type { ChaosBenchSummary, ChaosChecks, ChaosRunResult, FaultGroup, FaultOutcome } from '../results.js';
import {
  FIGURE_NOTES,
  MODES,
  atText,
  durationText,
  fixed,
  groupRows,
  median,
  mibText,
  rateText,
  signedPctText,
  type Mode,
} from './format.js';

/** Chart files to link from the bench report (names relative to the Markdown file). */
export interface BenchCharts {
  readonly throughputSvg?: string;
  readonly recoverySvg?: string;
}

/** Characters of user text (findings, reasons, target lists) kept per cell. */
const CELL_CHARS_MAX = 500;
/** Faults listed per run; the JSON has the rest. */
export const FAULT_ROWS_MAX = 200;
/** Findings listed per run. */
export const FINDINGS_MAX = 50;
/** A figure the run did not have (a median over no faults). */
const NONE = '—';
const BENCH_ONLY_NOTES = new Set(['Recovery time reduction', 'Success rate gain']);

type Cell = string | number;

function cell(text: string): string {
  return escapeMarkdownCell(text, CELL_CHARS_MAX);
}

/**
 * A GitHub table. `align` has one letter per column, l(eft) for text and
 * r(ight) for figures; by default the first column is text, the rest figures.
 */
function table(header: readonly string[], rows: ReadonlyArray<readonly Cell[]>, align = ''): string[] {
  const line = (cells: readonly Cell[]): string => `| ${cells.map(String).join(' | ')} |`;
  const rule = header.map((_, i) => ((align[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? '---' : '---:'));
  return [line(header), line(rule), ...rows.map(line)];
}

function verdict(pass: boolean): string {
  return pass ? 'PASS' : 'FAIL';
}

function checksPass(c: ChaosChecks): boolean {
  return c.lostTasks === 0 && c.duplicateResults === 0 && c.divergentReplicas === 0 && c.splitBrainTerms === 0 && c.steadyStateViolations === 0 && c.ready;
}

function readyText(c: ChaosChecks): string {
  return c.ready ? `yes (${durationText(c.readyMs, 'time unknown')})` : `no (${durationText(c.readyMs, 'never')})`;
}

const COUNT_CHECKS = [
  ['Lost tasks', 'lostTasks'],
  ['Duplicate results', 'duplicateResults'],
  ['Divergent replicas', 'divergentReplicas'],
  ['Split-brain terms', 'splitBrainTerms'],
] as const;

/** The checks with one column per run, and for the bench its own totals; FAIL when any is non-zero. */
function checksTable(runs: readonly ChaosRunResult[], totals?: ChaosBenchSummary): string[] {
  const header = ['Check', ...runs.map((r) => r.mode), ...(totals ? ['Bench'] : []), 'Result'];
  const rows: Cell[][] = COUNT_CHECKS.map(([label, key]) => {
    const counts = runs.map((r) => r.checks[key]);
    const all = totals ? [...counts, totals[key]] : counts;
    return [label, ...all.map((n) => fixed(n, 0)), verdict(all.every((n) => n === 0))];
  });
  const steady = runs.map((r) => r.checks.steadyStateViolations);
  rows.push(['Steady-state violations', ...steady.map((n) => fixed(n, 0)), ...(totals ? [NONE] : []), verdict(steady.every((n) => n === 0))]);
  rows.push(['Ready', ...runs.map((r) => readyText(r.checks)), ...(totals ? [NONE] : []), verdict(runs.every((r) => r.checks.ready))]);
  return table(header, rows);
}

function findingsList(runs: readonly ChaosRunResult[]): string[] {
  const items = runs.flatMap((r) => {
    const shown = r.checks.findings.slice(0, FINDINGS_MAX).map((f) => `- **${r.mode}**: ${cell(f)}`);
    const left = r.checks.findings.length - shown.length;
    return left > 0 ? [...shown, `- **${r.mode}**: …and ${left} more findings (see the JSON).`] : shown;
  });
  return items.length > 0 ? items : ['No findings.'];
}

function figuresTable(runs: readonly ChaosRunResult[], header: readonly string[]): string[] {
  const row = (label: string, value: (r: ChaosRunResult) => string): Cell[] => [label, ...runs.map(value)];
  return table(header, [
    row('Tasks', (r) => fixed(r.tasks, 0)),
    row('Passed', (r) => fixed(r.passed, 0)),
    row('Failed', (r) => fixed(r.failed, 0)),
    row('Failed-infra', (r) => fixed(r.failedInfra, 0)),
    row('Success rate', (r) => rateText(r.successRate)),
    row('Infra retries', (r) => fixed(r.infraRetries, 0)),
    row('Makespan (s)', (r) => fixed(r.makespanMs / 1000, 1)),
    row('Baseline throughput (tasks/s)', (r) => fixed(r.baselineTasksPerSec, 2)),
    row('CPU seconds', (r) => fixed(r.cpuSeconds, 1)),
    row('Peak RSS (MiB)', (r) => mibText(r.peakRssBytes)),
    row('Workers quarantined after healing', (r) => (r.quarantinedAfterHeal === null ? '—' : fixed(r.quarantinedAfterHeal, 0))),
    row('Leader terms', (r) => fixed(r.leaderTerms, 0)),
  ]);
}

/** Median time to 90% throughput over a run's faults that have it. */
function medianBackMs(run: ChaosRunResult): number | null {
  return median(run.faults.flatMap((f) => (f.throughputBackMs === null ? [] : [f.throughputBackMs])));
}

/** Why the runner could not compute the recovery time reduction. */
function recoveryWhyNot(s: ChaosBenchSummary): string {
  if (s.withBreaker.faults.length === 0 && s.withoutBreaker.faults.length === 0) return 'no faults were injected';
  for (const run of [s.withBreaker, s.withoutBreaker]) {
    if (medianBackMs(run) === null) return `throughput never came back to 90% of the baseline after any fault of the ${run.mode} run`;
  }
  if (medianBackMs(s.withoutBreaker) === 0) return 'the no-breaker run recovered at once (0 ms), so a reduction is undefined';
  return 'the runner did not compute it';
}

function successWhyNot(s: ChaosBenchSummary): string {
  if (s.withoutBreaker.tasks === 0 || s.withBreaker.tasks === 0) return 'a run had no tasks';
  if (s.withoutBreaker.successRate === 0) return 'the no-breaker success rate is 0, so a relative gain is undefined';
  return 'the runner did not compute it';
}

function headlineTable(s: ChaosBenchSummary): string[] {
  const back = (r: ChaosRunResult): string => durationText(medianBackMs(r), 'never');
  const recovery = s.recoveryTimeReductionPct;
  const gain = s.successRateGainPct;
  return table(
    ['Ratio', 'Value', 'Note'],
    [
      [
        'Recovery time reduction',
        recovery === null ? 'n/a' : signedPctText(recovery),
        recovery === null
          ? cell(recoveryWhyNot(s))
          : `median time to 90% throughput: ${back(s.withBreaker)} with breakers, ${back(s.withoutBreaker)} without`,
      ],
      [
        'Success rate gain',
        gain === null ? 'n/a' : signedPctText(gain),
        gain === null
          ? cell(successWhyNot(s))
          : `success rate ${rateText(s.withBreaker.successRate)} with breakers, ${rateText(s.withoutBreaker.successRate)} without`,
      ],
    ],
    'lrl',
  );
}

const GROUP_FIGURES = [
  ['Detect', (g: FaultGroup) => g.detectMs],
  ['New leader', (g: FaultGroup) => g.newLeaderMs],
  ['First write', (g: FaultGroup) => g.firstWriteMs],
  ['90% throughput', (g: FaultGroup) => g.throughputBackMs],
] as const;

/** Per type × intensity: count and median times, each with one column per mode present. */
function groupTable(runs: readonly ChaosRunResult[]): string[] {
  const modes: Mode[] = MODES.filter((m) => runs.some((r) => r.mode === m));
  const suffix = (m: Mode): string => (runs.length > 1 ? ` (${m})` : '');
  const header = ['Fault', 'Intensity', ...modes.map((m) => `Count${suffix(m)}`)];
  for (const [label] of GROUP_FIGURES) header.push(...modes.map((m) => `${label}${suffix(m)}`));
  const rows = groupRows(runs).map((g) => {
    const cells: Cell[] = [cell(g.type), cell(g.intensity), ...modes.map((m) => fixed(g.byMode[m]?.count ?? 0, 0))];
    for (const [, figure] of GROUP_FIGURES) {
      cells.push(...modes.map((m) => {
        const group = g.byMode[m];
        return group === undefined ? NONE : durationText(figure(group), NONE);
      }));
    }
    return cells;
  });
  return rows.length > 0 ? table(header, rows, 'll') : ['No faults were injected.'];
}

function adaptedText(f: FaultOutcome): string {
  if (f.adapted === undefined) return NONE;
  const what = f.targets.length === 0 ? `skipped (wanted ${f.adapted.wanted})` : `lowered from ${f.adapted.wanted}`;
  return cell(`${what}: ${f.adapted.reason}`);
}

function faultList(run: ChaosRunResult): string[] {
  const faults = [...run.faults].sort((a, b) => a.injectedAtMs - b.injectedAtMs);
  const shown = faults.slice(0, FAULT_ROWS_MAX);
  const rows = shown.map((f, i): Cell[] => [
    i + 1,
    atText(f.injectedAtMs),
    atText(f.healedAtMs),
    cell(f.type),
    cell(f.intensity),
    cell(f.scope),
    f.targets.length > 0 ? cell(f.targets.join(', ')) : NONE,
    adaptedText(f),
  ]);
  if (rows.length === 0) return ['No faults were injected.'];
  const more = faults.length > shown.length ? ['', `…and ${faults.length - shown.length} more faults (see the JSON).`] : [];
  return [...table(['#', 'Injected at', 'Healed at', 'Type', 'Intensity', 'Scope', 'Targets', 'Adapted'], rows, 'rrrlllll'), ...more];
}

function figureNotes(bench: boolean): string[] {
  return FIGURE_NOTES.filter(([name]) => bench || !BENCH_ONLY_NOTES.has(name)).map(([name, note]) => `- **${name}**: ${note}`);
}

function chartLinks(charts: BenchCharts | undefined): string[] {
  const target = (name: string): string => encodeURI(name).replace(/[()]/g, (c) => (c === '(' ? '%28' : '%29'));
  const links: string[] = [];
  if (charts?.throughputSvg !== undefined) links.push(`![Throughput over time](${target(charts.throughputSvg)})`);
  if (charts?.recoverySvg !== undefined) links.push(`![Median time to 90% throughput by fault](${target(charts.recoverySvg)})`);
  return links.length > 0 ? ['## Charts', '', ...links.flatMap((l) => [l, ''])] : [];
}

/** Renders the `testudo chaos bench` summary: checks, both modes side by side, ratios, faults, and what each figure means. */
export function renderBenchMarkdown(summary: ChaosBenchSummary, charts?: BenchCharts): string {
  const runs = [summary.withBreaker, summary.withoutBreaker];
  const pass = runs.every((r) => checksPass(r.checks)) && COUNT_CHECKS.every(([, key]) => summary[key] === 0);
  const lines = [
    `# Chaos benchmark: ${cell(summary.scenario)} (seed ${fixed(summary.seed, 0)})`,
    '',
    `Safety: **${verdict(pass)}**. The same seeded workload and fault schedule ran with circuit breakers and adaptive recovery on (breaker) and off (no-breaker).`,
    '',
    '## Safety checks',
    '',
    ...checksTable(runs, summary),
    '',
    '### Findings',
    '',
    ...findingsList(runs),
    '',
    '## Both modes',
    '',
    ...figuresTable(runs, ['Figure', 'breaker', 'no-breaker']),
    '',
    '## Headline',
    '',
    ...headlineTable(summary),
    '',
    ...chartLinks(charts),
    '## By fault type and intensity',
    '',
    'Counts and median times after injection; — where no fault of the group had the figure.',
    '',
    ...groupTable(runs),
    '',
    '## Injected faults',
    '',
    ...runs.flatMap((r) => [`### ${r.mode} (${r.faults.length})`, '', ...faultList(r), '']),
    '## What the figures mean',
    '',
    ...figureNotes(true),
  ];
  return `${lines.join('\n')}\n`;
}

/** Renders one `testudo chaos run`: checks, the mode's figures, its faults, and what each figure means. */
export function renderRunMarkdown(result: ChaosRunResult): string {
  const lines = [
    `# Chaos run: ${cell(result.scenario)} (seed ${fixed(result.seed, 0)}, ${result.mode})`,
    '',
    `Safety: **${verdict(checksPass(result.checks))}**.`,
    '',
    '## Safety checks',
    '',
    ...checksTable([result]),
    '',
    '### Findings',
    '',
    ...findingsList([result]),
    '',
    '## Figures',
    '',
    ...figuresTable([result], ['Figure', 'Value']),
    '',
    '## By fault type and intensity',
    '',
    ...groupTable([result]),
    '',
    `## Injected faults (${result.faults.length})`,
    '',
    ...faultList(result),
    '',
    '## What the figures mean',
    '',
    ...figureNotes(false),
  ];
  return `${lines.join('\n')}\n`;
}
