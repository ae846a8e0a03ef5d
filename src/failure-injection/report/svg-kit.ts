/**
 * The pieces both chaos charts are drawn with: the document, nice axis ticks,
 * axes, legend, "no data" note. Every number goes through `num`, which refuses
 * NaN and ±Infinity, so a bad figure fails loudly here instead of producing an
 * SVG a browser silently half-draws. Callers drop non-finite inputs first.
 */
import { escapeXmlAttr, escapeXmlText } from '../../report/xml-escape.js';

/** Bounds of a chart's width and height (px). */
export const CHART_SIZE_MIN_PX = 200;
export const CHART_SIZE_MAX_PX = 4000;
/** Tick marks an axis aims for (it gets between about half and twice as many). */
const AXIS_TICKS_TARGET = 5;

export const MODE_COLORS: Readonly<Record<string, string>> = { breaker: '#1f77b4', 'no-breaker': '#d62728' };
const OTHER_COLOR = '#555555';
export const HATCH_ID = 'testudo-chaos-hatch';

export function modeColor(mode: string): string {
  return MODE_COLORS[mode] ?? OTHER_COLOR;
}

/** The plot area inside the margins. */
export interface Box {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

export interface ChartSize {
  readonly width: number;
  readonly height: number;
}

/** A coordinate for an attribute: at most two decimals, never NaN, Infinity or -0. */
export function num(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`chart coordinate is not finite: ${n}`);
  const rounded = Math.round(n * 100) / 100;
  return String(rounded === 0 ? 0 : rounded);
}

/** A width or height option, checked against the bounds; `fallback` when absent. */
export function chartDimension(value: number | undefined, fallback: number, name: string): number {
  const px = value ?? fallback;
  if (!Number.isFinite(px) || px < CHART_SIZE_MIN_PX || px > CHART_SIZE_MAX_PX) {
    throw new RangeError(`chart ${name} must be between ${CHART_SIZE_MIN_PX} and ${CHART_SIZE_MAX_PX} px, got ${value}`);
  }
  return Math.round(px);
}

/** 1, 2 or 5 × 10^k, the smallest such step ≥ rough. */
export function niceStep(rough: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const fraction = rough / magnitude;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
  return nice * magnitude;
}

/** Ticks 0, step, 2·step … up to the first one ≥ max; an empty or zero range gets 0..1. */
export function niceTicks(max: number): { readonly ticks: readonly number[]; readonly step: number } {
  const top = Number.isFinite(max) && max > 0 ? max : 1;
  const step = niceStep(top / AXIS_TICKS_TARGET);
  // The epsilon keeps 10 / 2 from becoming 6 ticks through rounding noise.
  const count = Math.max(1, Math.ceil(top / step - 1e-9));
  const ticks = Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
  return { ticks, step };
}

/** A tick label with as many decimals as the step needs. */
export function tickLabel(value: number, step: number): string {
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return value.toFixed(decimals);
}

/** value ∈ [0, max] → [from, to], clamped so an outlier stays inside the plot. */
export function scale(max: number, from: number, to: number): (value: number) => number {
  return (value) => from + (to - from) * Math.min(1, Math.max(0, value / max));
}

export function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${num(x)}" y="${num(y)}"${attrs === '' ? '' : ` ${attrs}`}>${escapeXmlText(content)}</text>`;
}

export function attr(value: string): string {
  return escapeXmlAttr(value);
}

/** The root element: SVG 1.1, fixed size, generic font only, a title for screen readers. */
export function svgDocument(size: ChartSize, title: string, body: readonly string[]): string {
  const { width, height } = size;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXmlText(title)}</title>`,
    `<rect class="background" x="0" y="0" width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`,
    text(12, 22, title, 'font-size="15" font-weight="bold" fill="#222222"'),
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

export function hatchDefs(): string {
  return (
    `<defs><pattern id="${HATCH_ID}" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">` +
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#999999" stroke-width="2"/></pattern></defs>'
  );
}

/** Horizontal grid lines and the y axis with its ticks and label. */
export function yAxis(box: Box, max: number, label: string): string[] {
  const { ticks, step } = niceTicks(max);
  const y = scale(ticks[ticks.length - 1] as number, box.top + box.height, box.top);
  const right = box.left + box.width;
  const out = ticks.map(
    (t) =>
      `<line class="grid" x1="${num(box.left)}" y1="${num(y(t))}" x2="${num(right)}" y2="${num(y(t))}" stroke="#e5e5e5"/>` +
      text(box.left - 6, y(t) + 4, tickLabel(t, step), 'text-anchor="end" fill="#444444"'),
  );
  const midY = box.top + box.height / 2;
  out.push(
    `<line class="axis" x1="${num(box.left)}" y1="${num(box.top)}" x2="${num(box.left)}" y2="${num(box.top + box.height)}" stroke="#333333"/>`,
    text(16, midY, label, `text-anchor="middle" transform="rotate(-90 16 ${num(midY)})" fill="#222222"`),
  );
  return out;
}

/** The x axis with ticks and label (a linear axis starting at 0). */
export function xAxis(box: Box, max: number, label: string): string[] {
  const { ticks, step } = niceTicks(max);
  const x = scale(ticks[ticks.length - 1] as number, box.left, box.left + box.width);
  const bottom = box.top + box.height;
  const out = ticks.map(
    (t) =>
      `<line class="tick" x1="${num(x(t))}" y1="${num(bottom)}" x2="${num(x(t))}" y2="${num(bottom + 4)}" stroke="#333333"/>` +
      text(x(t), bottom + 16, tickLabel(t, step), 'text-anchor="middle" fill="#444444"'),
  );
  out.push(xAxisLine(box), text(box.left + box.width / 2, bottom + 36, label, 'text-anchor="middle" fill="#222222"'));
  return out;
}

export function xAxisLine(box: Box): string {
  const bottom = box.top + box.height;
  return `<line class="axis" x1="${num(box.left)}" y1="${num(bottom)}" x2="${num(box.left + box.width)}" y2="${num(bottom)}" stroke="#333333"/>`;
}

/** The top of the axis the ticks of `max` end at: what the data is scaled to. */
export function axisTop(max: number): number {
  const { ticks } = niceTicks(max);
  return ticks[ticks.length - 1] as number;
}

export function noDataNote(box: Box): string {
  return text(box.left + box.width / 2, box.top + box.height / 2, 'no data', 'class="no-data" text-anchor="middle" font-size="14" fill="#888888"');
}

export interface LegendItem {
  readonly label: string;
  readonly color: string;
  readonly kind: 'line' | 'dashed' | 'bar' | 'hatch';
}

/** One row of swatches and labels; widths estimated from the label length so the layout is deterministic. */
export function legend(items: readonly LegendItem[], left: number, y: number): string[] {
  let x = left;
  const out: string[] = [];
  for (const item of items) {
    const c = attr(item.color);
    if (item.kind === 'line' || item.kind === 'dashed') {
      const dash = item.kind === 'dashed' ? ' stroke-dasharray="6 4"' : '';
      out.push(`<line x1="${num(x)}" y1="${num(y - 4)}" x2="${num(x + 20)}" y2="${num(y - 4)}" stroke="${c}" stroke-width="2"${dash}/>`);
    } else {
      const fill = item.kind === 'hatch' ? `url(#${HATCH_ID})` : c;
      out.push(`<rect x="${num(x + 4)}" y="${num(y - 10)}" width="12" height="10" fill="${fill}" stroke="${c}"/>`);
    }
    out.push(text(x + 26, y, item.label, 'fill="#222222"'));
    x += 26 + Math.min(item.label.length, 60) * 7 + 16;
  }
  return out;
}
