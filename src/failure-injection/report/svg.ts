/**
 * The chaos benchmark's charts as self-contained SVG 1.1 strings: throughput
 * over time with the faults marked, and the median time back to 90%
 * throughput per fault type × intensity. Pure and deterministic: the same
 * input gives the same bytes; empty input draws the frame and "no data".
 */
import type { ChaosBenchSummary, ChaosRunResult, FaultOutcome, ThroughputSample } from '../results.js';
import { MODES, durationText, fixed, groupRows, signedPctText } from './format.js';
import {
  attr,
  axisTop,
  CHART_SIZE_MAX_PX,
  chartDimension,
  HATCH_ID,
  hatchDefs,
  legend,
  modeColor,
  noDataNote,
  num,
  scale,
  svgDocument,
  text,
  xAxis,
  xAxisLine,
  yAxis,
  type Box,
  type ChartSize,
  type LegendItem,
} from './svg-kit.js';

export interface ChartOptions {
  /** px, between CHART_SIZE_MIN_PX and CHART_SIZE_MAX_PX. */
  readonly width?: number;
  readonly height?: number;
  readonly title?: string;
}

export interface ThroughputChartOptions extends ChartOptions {
  /** Points drawn per run at most; longer series are thinned to each bucket's min and max (default 2000). */
  readonly pointsMax?: number;
}

export const THROUGHPUT_POINTS_MAX = 2000;
/** Share of the baseline throughput counted as recovered (results.ts `throughputBackMs`). */
const RECOVERED_SHARE = 0.9;
/** Rows of fault labels per run at the top of the plot, so labels of neighbouring faults do not overlap. */
const FAULT_LABEL_ROWS = 2;

/** Samples that can be drawn (finite, not before the start), in time order. */
function cleanSamples(samples: readonly ThroughputSample[]): ThroughputSample[] {
  return samples
    .filter((s) => Number.isFinite(s.tMs) && Number.isFinite(s.tasksPerSec) && s.tMs >= 0)
    .sort((a, b) => a.tMs - b.tMs);
}

/** Keeps the min and max sample of each of pointsMax / 2 time buckets, in time order. */
function thin(samples: readonly ThroughputSample[], pointsMax: number): readonly ThroughputSample[] {
  if (samples.length <= pointsMax) return samples;
  const buckets = Math.max(1, Math.floor(pointsMax / 2));
  const out: ThroughputSample[] = [];
  for (let b = 0; b < buckets; b++) {
    const part = samples.slice(Math.floor((b * samples.length) / buckets), Math.floor(((b + 1) * samples.length) / buckets));
    if (part.length === 0) continue;
    let lo = 0;
    let hi = 0;
    part.forEach((s, i) => {
      if (s.tasksPerSec < (part[lo] as ThroughputSample).tasksPerSec) lo = i;
      if (s.tasksPerSec > (part[hi] as ThroughputSample).tasksPerSec) hi = i;
    });
    for (const i of lo === hi ? [lo] : [Math.min(lo, hi), Math.max(lo, hi)]) out.push(part[i] as ThroughputSample);
  }
  return out;
}

function faultDrawable(f: FaultOutcome): boolean {
  return Number.isFinite(f.injectedAtMs) && Number.isFinite(f.healedAtMs);
}

function finiteMax(values: readonly number[]): number {
  return values.reduce((m, v) => (Number.isFinite(v) && v > m ? v : m), 0);
}

interface Series {
  readonly run: ChaosRunResult;
  readonly samples: readonly ThroughputSample[];
  readonly faults: readonly FaultOutcome[];
}

function faultSpans(series: readonly Series[], box: Box, x: (ms: number) => number): string[] {
  const out: string[] = [];
  series.forEach(({ run, faults }, r) => {
    const color = attr(modeColor(run.mode));
    faults.forEach((f, i) => {
      const x0 = x(f.injectedAtMs);
      const width = Math.max(1, x(Math.max(f.healedAtMs, f.injectedAtMs)) - x0);
      const label = `${f.type}/${f.intensity}`;
      const tip = `${run.mode}: ${label} on ${f.targets.length > 0 ? f.targets.join(', ') : 'nothing (skipped)'}, ${durationText(f.injectedAtMs, '')} to ${durationText(f.healedAtMs, '')}`;
      out.push(
        `<rect class="fault-span" data-mode="${attr(run.mode)}" x="${num(x0)}" y="${num(box.top)}" width="${num(width)}" height="${num(box.height)}" fill="${color}" fill-opacity="0.1"><title>${attr(tip)}</title></rect>`,
        text(x0 + 2, box.top + 11 + (r * FAULT_LABEL_ROWS + (i % FAULT_LABEL_ROWS)) * 11, label, `class="fault-label" font-size="9" fill="${color}"`),
      );
    });
  });
  return out;
}

function seriesLines(series: readonly Series[], x: (ms: number) => number, y: (perSec: number) => number, box: Box): string[] {
  const out: string[] = [];
  for (const { run, samples } of series) {
    const color = attr(modeColor(run.mode));
    const level = run.baselineTasksPerSec * RECOVERED_SHARE;
    if (Number.isFinite(level) && level > 0) {
      out.push(`<line class="baseline" data-mode="${attr(run.mode)}" x1="${num(box.left)}" y1="${num(y(level))}" x2="${num(box.left + box.width)}" y2="${num(y(level))}" stroke="${color}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    }
    if (samples.length === 0) continue;
    const points = samples.map((s) => `${num(x(s.tMs))},${num(y(s.tasksPerSec))}`).join(' ');
    const only = samples.length === 1 ? samples[0] : undefined;
    out.push(`<polyline class="series" data-mode="${attr(run.mode)}" points="${points}" fill="none" stroke="${color}" stroke-width="2" stroke-linejoin="round"/>`);
    // A single sample is a line of no length: mark it so it shows.
    if (only) out.push(`<circle class="point" cx="${num(x(only.tMs))}" cy="${num(y(only.tasksPerSec))}" r="3" fill="${color}"/>`);
  }
  return out;
}

/**
 * Tasks per second over time, one line per run coloured by mode, each run's
 * 90%-of-baseline level dashed, and every fault shaded from injection to healing.
 */
export function throughputChart(runs: readonly ChaosRunResult[], options: ThroughputChartOptions = {}): string {
  const size: ChartSize = { width: chartDimension(options.width, 800, 'width'), height: chartDimension(options.height, 360, 'height') };
  const pointsMax = options.pointsMax ?? THROUGHPUT_POINTS_MAX;
  if (!Number.isInteger(pointsMax) || pointsMax < 2) throw new RangeError(`pointsMax must be an integer ≥ 2, got ${pointsMax}`);
  const series: Series[] = runs.map((run) => ({ run, samples: thin(cleanSamples(run.throughput), pointsMax), faults: run.faults.filter(faultDrawable) }));
  const box: Box = { left: 64, top: 56, width: size.width - 88, height: size.height - 104 };
  const maxMs = finiteMax(series.flatMap((s) => [...s.samples.map((p) => p.tMs), ...s.faults.flatMap((f) => [f.injectedAtMs, f.healedAtMs]), s.run.makespanMs]));
  const dataMaxPerSec = finiteMax(series.flatMap((s) => [...s.samples.map((p) => p.tasksPerSec), s.run.baselineTasksPerSec * RECOVERED_SHARE]));
  // Head room above the data for the fault labels, so no label sits on a line.
  const labelRows = series.filter((s) => s.faults.length > 0).length * FAULT_LABEL_ROWS;
  const headroomPx = Math.min(box.height * 0.4, labelRows * 11 + 4);
  const maxPerSec = (dataMaxPerSec * box.height) / (box.height - headroomPx);
  const xTopSec = axisTop(maxMs / 1000);
  const x = scale(xTopSec * 1000, box.left, box.left + box.width);
  const y = scale(axisTop(maxPerSec), box.top + box.height, box.top);
  const first = runs[0];
  const title = options.title ?? (first ? `Throughput over time: ${first.scenario} (seed ${fixed(first.seed, 0)})` : 'Throughput over time');
  const items: LegendItem[] = series.flatMap(({ run }) => [
    { label: run.mode, color: modeColor(run.mode), kind: 'line' as const },
    { label: `${run.mode}: 90% of baseline`, color: modeColor(run.mode), kind: 'dashed' as const },
  ]);
  const hasData = series.some((s) => s.samples.length > 0);
  return svgDocument(size, title, [
    ...legend(items, box.left, 42),
    ...yAxis(box, maxPerSec, 'tasks/s'),
    ...xAxis(box, maxMs / 1000, 'seconds since workload start'),
    ...faultSpans(series, box, x),
    ...seriesLines(series, x, y, box),
    ...(hasData ? [] : [noDataNote(box)]),
  ]);
}

interface Bar {
  readonly mode: string;
  readonly ms: number | null;
}

function recoveryBars(bars: readonly Bar[], center: number, barWidth: number, box: Box, y: (sec: number) => number): string[] {
  const out: string[] = [];
  const bottom = box.top + box.height;
  bars.forEach((bar, i) => {
    const left = center - barWidth * (bars.length / 2) + i * barWidth;
    const color = attr(modeColor(bar.mode));
    const mode = attr(bar.mode);
    if (bar.ms === null || !Number.isFinite(bar.ms)) {
      const h = Math.min(18, box.height);
      out.push(
        `<rect class="bar-na" data-mode="${mode}" x="${num(left + 1)}" y="${num(bottom - h)}" width="${num(barWidth - 2)}" height="${num(h)}" fill="url(#${HATCH_ID})" stroke="${color}"/>`,
        text(left + barWidth / 2, bottom - h - 4, 'n/a', 'class="na-label" text-anchor="middle" font-size="10" fill="#666666"'),
      );
      return;
    }
    const top = y(bar.ms / 1000);
    out.push(
      `<rect class="bar" data-mode="${mode}" x="${num(left + 1)}" y="${num(top)}" width="${num(barWidth - 2)}" height="${num(Math.max(0, bottom - top))}" fill="${color}"/>`,
      text(left + barWidth / 2, top - 4, durationText(bar.ms, 'n/a'), 'class="value-label" text-anchor="middle" font-size="10" fill="#222222"'),
    );
  });
  return out;
}

/**
 * Grouped bars: for each fault type × intensity, the median time to 90%
 * throughput with and without breakers; a hatched "n/a" marker where throughput
 * never came back (or the mode had no such fault).
 */
export function recoveryChart(summary: ChaosBenchSummary, options: ChartOptions = {}): string {
  const groups = groupRows([summary.withBreaker, summary.withoutBreaker]);
  const size: ChartSize = {
    width: chartDimension(options.width, Math.min(CHART_SIZE_MAX_PX, Math.max(640, 120 + groups.length * 96)), 'width'),
    height: chartDimension(options.height, 400, 'height'),
  };
  const box: Box = { left: 64, top: 72, width: size.width - 88, height: size.height - 72 - 96 };
  const msOf = (g: (typeof groups)[number], mode: (typeof MODES)[number]): number | null => g.byMode[mode]?.throughputBackMs ?? null;
  const maxSec = Math.max(0, ...groups.flatMap((g) => MODES.map((m) => msOf(g, m) ?? 0)).filter(Number.isFinite)) / 1000;
  const y = scale(axisTop(maxSec), box.top + box.height, box.top);
  const slot = box.width / Math.max(1, groups.length);
  const barWidth = Math.min(36, (slot * 0.7) / MODES.length);
  const bottom = box.top + box.height;
  const body: string[] = [hatchDefs(), ...yAxis(box, maxSec, 'seconds to 90% throughput (median)'), xAxisLine(box)];
  groups.forEach((g, i) => {
    const center = box.left + slot * (i + 0.5);
    body.push(...recoveryBars(MODES.map((mode) => ({ mode, ms: msOf(g, mode) })), center, barWidth, box, y));
    body.push(text(center, bottom + 14, `${g.type}/${g.intensity}`, `class="group-label" text-anchor="end" font-size="11" fill="#444444" transform="rotate(-30 ${num(center)} ${num(bottom + 14)})"`));
  });
  if (groups.length === 0) body.push(noDataNote(box));
  const reduction = summary.recoveryTimeReductionPct;
  const subtitle = `Recovery time reduction with breakers: ${reduction === null ? 'n/a' : signedPctText(reduction)}`;
  body.push(
    text(12, 40, subtitle, 'class="subtitle" fill="#444444"'),
    ...legend([...MODES.map((m) => ({ label: m, color: modeColor(m), kind: 'bar' as const })), { label: 'n/a: never back to 90%', color: '#999999', kind: 'hatch' }], box.left, 60),
  );
  const title = options.title ?? `Time to 90% throughput by fault: ${summary.scenario} (seed ${fixed(summary.seed, 0)})`;
  return svgDocument(size, title, body);
}
