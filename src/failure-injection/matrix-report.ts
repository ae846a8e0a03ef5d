/**
 * The Markdown report of the benchmark matrix: per scenario, each figure's
 * mean [95% interval] with adaptive recovery on and off, the paired
 * comparison and its verdict. Pure.
 */
import { FIGURE_NAMES, FIGURES, type Figure, type ScenarioStats } from './matrix.js';
import type { Interval } from './stats.js';

const LABELS: Readonly<Record<Figure, { label: string; scale: number; digits: number; unit: string }>> = {
  makespanMs: { label: 'Makespan', scale: 1 / 1000, digits: 1, unit: ' s' },
  recoveryMs: { label: 'Time back to 90% throughput (mean per fault)', scale: 1 / 1000, digits: 1, unit: ' s' },
  wastedAttempts: { label: 'Wasted attempts', scale: 1, digits: 1, unit: '' },
  spawnRetries: { label: 'Spawn retries in place (within attempts)', scale: 1, digits: 1, unit: '' },
  infraRetries: { label: 'Infrastructure retries', scale: 1, digits: 1, unit: '' },
  cpuSeconds: { label: 'CPU seconds (coordinators + workers)', scale: 1, digits: 1, unit: ' s' },
  successRate: { label: 'Task success rate', scale: 100, digits: 1, unit: '%' },
  resilienceScore: { label: 'Resilience score', scale: 1, digits: 3, unit: '' },
  quarantinedAfterHeal: { label: 'Workers still quarantined after healing', scale: 1, digits: 2, unit: '' },
};

function num(v: number | null, scale: number, digits: number): string {
  return v === null ? '—' : (v * scale).toFixed(digits);
}

/** `mean [lo, hi]`, or the mean alone when there is no interval. */
export function formatInterval(i: Interval, scale = 1, digits = 2, unit = ''): string {
  if (i.mean === null) return '—';
  const mean = `${num(i.mean, scale, digits)}${unit}`;
  return i.ci95[0] === null ? `${mean} (n=${i.n})` : `${mean} [${num(i.ci95[0], scale, digits)}, ${num(i.ci95[1], scale, digits)}]`;
}

function scenarioTable(s: ScenarioStats): string[] {
  const lines = [
    `### ${s.name} (seeds ${s.seeds.join(', ')})`,
    '',
    '| Figure | Adaptive recovery on | Off | On vs off | Verdict |',
    '|---|---|---|---|---|',
  ];
  for (const figure of FIGURE_NAMES) {
    const l = LABELS[figure];
    const c = s.compare[figure];
    const ratio = FIGURES[figure].compare === 'ratio';
    const compared = ratio ? `${formatInterval(c, 1, 2)} ×` : formatInterval(c, l.scale, l.digits, figure === 'successRate' ? ' pt' : '');
    lines.push(`| ${l.label} | ${formatInterval(s.on[figure], l.scale, l.digits, l.unit)} | ${formatInterval(s.off[figure], l.scale, l.digits, l.unit)} | ${c.mean === null ? '—' : compared} | ${c.verdict} |`);
  }
  return [...lines, ''];
}

/** The whole matrix as Markdown. */
export function renderMatrixMarkdown(stats: readonly ScenarioStats[], safety: { lostTasks: number; duplicateResults: number; divergentReplicas: number; splitBrainTerms: number }): string {
  const lines = [
    '# Chaos benchmark matrix',
    '',
    'Mean [95% Student t interval] over the seeds. Ratios (×) are adaptive recovery on ÷ off: the geometric mean of the per-seed ratios,',
    'its interval from the t interval of their logarithms. Differences are on − off. A gain or a loss only when the interval excludes 1 (ratios) or 0 (differences).',
    '',
    `Safety over every pass: ${safety.lostTasks} lost tasks, ${safety.duplicateResults} results counted twice, ${safety.divergentReplicas} divergent replicas, ${safety.splitBrainTerms} terms with two leaders.`,
    '',
  ];
  for (const s of stats) lines.push(...scenarioTable(s));
  return `${lines.join('\n')}\n`;
}
