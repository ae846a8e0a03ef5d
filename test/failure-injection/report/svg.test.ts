import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import type { ChaosRunResult, FaultGroup } from '../../../src/failure-injection/results.js';
import { niceStep, niceTicks, recoveryChart, throughputChart, THROUGHPUT_POINTS_MAX } from '../../../src/failure-injection/report/index.js';
import { bench, fault, run } from './fixtures.js';

function count(svg: string, pattern: RegExp): number {
  return svg.match(new RegExp(pattern.source, 'g'))?.length ?? 0;
}

/** Well-formed, SVG 1.1 root with size and viewBox, and no non-finite number anywhere. */
function expectSaneSvg(svg: string): void {
  expect(XMLValidator.validate(svg)).toBe(true);
  expect(svg).not.toMatch(/NaN|Infinity/);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(svg) as { svg: Record<string, string> };
  expect(doc.svg.xmlns).toBe('http://www.w3.org/2000/svg');
  expect(doc.svg.version).toBe('1.1');
  expect(doc.svg.viewBox).toBe(`0 0 ${doc.svg.width} ${doc.svg.height}`);
  // Self-contained: nothing fetched, nothing run.
  expect(svg).not.toMatch(/<script|@import|@font-face|href="http/);
}

const degenerateRuns: ReadonlyArray<[string, ChaosRunResult[]]> = [
  ['no runs', []],
  ['no samples, no faults', [run('breaker', { throughput: [], faults: [], makespanMs: 0, baselineTasksPerSec: 0 })]],
  ['one sample', [run('breaker', { throughput: [{ tMs: 0, tasksPerSec: 0 }], faults: [] })]],
  ['all-zero throughput', [run('breaker', { throughput: [1, 2, 3].map((s) => ({ tMs: s * 1000, tasksPerSec: 0 })), baselineTasksPerSec: 0 })]],
  ['non-finite input', [run('breaker', { throughput: [{ tMs: Number.NaN, tasksPerSec: 1 }, { tMs: 1000, tasksPerSec: Number.POSITIVE_INFINITY }], makespanMs: Number.NaN, baselineTasksPerSec: Number.NaN, seed: Number.NaN })]],
  ['zero-length fault', [run('breaker', { faults: [fault({ type: 'restart', intensity: 'mild', injectedAtMs: 0, healedAtMs: 0 })], throughput: [] })]],
];

describe('throughputChart', () => {
  const runs = [run('breaker'), run('no-breaker')];
  const svg = throughputChart(runs);

  it('is a well-formed, self-contained SVG', () => {
    expectSaneSvg(svg);
    expect(svg).toContain('<title>Throughput over time: mixed-faults (seed 42)</title>');
    expect(svg).toContain('>tasks/s</text>');
    expect(svg).toContain('>seconds since workload start</text>');
  });

  it('draws one line and one dashed 90% level per run, coloured by mode', () => {
    expect(count(svg, /<polyline class="series"/)).toBe(2);
    expect(svg).toMatch(/<polyline class="series" data-mode="breaker" points="[^"]+" fill="none" stroke="#1f77b4"/);
    expect(svg).toMatch(/<polyline class="series" data-mode="no-breaker" points="[^"]+" fill="none" stroke="#d62728"/);
    expect(count(svg, /<line class="baseline"[^>]*stroke-dasharray/)).toBe(2);
    const points = /data-mode="breaker" points="([^"]+)"/.exec(svg)?.[1]?.split(' ') ?? [];
    expect(points).toHaveLength(runs[0]!.throughput.length);
  });

  it('shades one span per fault with its type/intensity label', () => {
    const faults = runs[0]!.faults.length + runs[1]!.faults.length;
    expect(count(svg, /<rect class="fault-span"/)).toBe(faults);
    expect(count(svg, /class="fault-label"/)).toBe(faults);
    expect(svg).toContain('>kill/severe</text>');
    expect(svg).toContain('>worker-crash/moderate</text>');
    expect(svg).not.toContain('no data');
  });

  it('uses nice ticks for both axes', () => {
    // 75.1 s of run → ticks every 20 s up to 80; 4.2 tasks/s plus head room for the fault labels → every 2 up to 6.
    const xLabels = [...svg.matchAll(/text-anchor="middle" fill="#444444">([^<]*)<\/text>/g)].map((m) => m[1]);
    const yLabels = [...svg.matchAll(/text-anchor="end" fill="#444444">([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(xLabels).toEqual(['0', '20', '40', '60', '80']);
    expect(yLabels).toEqual(['0', '2', '4', '6']);
  });

  it('is identical across calls', () => {
    expect(throughputChart([run('breaker'), run('no-breaker')])).toBe(svg);
  });

  it.each(degenerateRuns)('stays sane with %s', (_, input) => {
    const out = throughputChart(input);
    expectSaneSvg(out);
    expect(count(out, /<polyline class="series"/)).toBe(input.filter((r) => r.throughput.some((s) => Number.isFinite(s.tMs) && Number.isFinite(s.tasksPerSec))).length);
    expect(count(out, /<rect class="fault-span"/)).toBe(input.reduce((n, r) => n + r.faults.length, 0));
  });

  it('says "no data" when no run has a sample', () => {
    expect(throughputChart([])).toContain('>no data</text>');
    expect(throughputChart([run('breaker', { throughput: [] })])).toContain('>no data</text>');
    expect(throughputChart([run('breaker', { throughput: [{ tMs: 500, tasksPerSec: 2 }] })])).toContain('<circle class="point"');
  });

  it('escapes text', () => {
    const out = throughputChart([run('breaker', { scenario: `<a & b>"q"'s` })], { title: undefined });
    expectSaneSvg(out);
    expect(out).toContain('Throughput over time: &lt;a &amp; b&gt;"q"\'s (seed 42)');
    expect(out).not.toContain('<a & b>');
    const titled = throughputChart([], { title: '</svg><script>x</script>' });
    expectSaneSvg(titled);
    expect(titled).toContain('&lt;/svg&gt;&lt;script&gt;');
  });

  it('thins long series and checks its options', () => {
    const long = Array.from({ length: 10_000 }, (_, i) => ({ tMs: i * 100, tasksPerSec: i % 7 }));
    const out = throughputChart([run('breaker', { throughput: long })]);
    expectSaneSvg(out);
    const points = /points="([^"]+)"/.exec(out)?.[1]?.split(' ') ?? [];
    expect(points.length).toBeLessThanOrEqual(THROUGHPUT_POINTS_MAX);
    expect(points.length).toBeGreaterThan(THROUGHPUT_POINTS_MAX / 2);
    expect(() => throughputChart([], { width: 10 })).toThrow(RangeError);
    expect(() => throughputChart([], { height: Number.NaN })).toThrow(RangeError);
    expect(() => throughputChart([], { pointsMax: 1 })).toThrow(RangeError);
  });
});

describe('recoveryChart', () => {
  const svg = recoveryChart(bench());

  it('draws both modes side by side per fault type × intensity', () => {
    expectSaneSvg(svg);
    expect(svg).toContain('<title>Time to 90% throughput by fault: mixed-faults (seed 42)</title>');
    // 5 groups × 2 modes: 6 measured bars, 4 n/a markers (worker-crash/moderate and /severe each miss one mode, worker-hang never recovered).
    expect(count(svg, /<rect class="bar" /)).toBe(6);
    expect(count(svg, /<rect class="bar-na" /)).toBe(4);
    expect(count(svg, />n\/a<\/text>/)).toBe(4);
    expect(count(svg, /class="group-label"/)).toBe(5);
    expect(svg).toContain('>kill/severe</text>');
    expect(svg).toMatch(/<rect class="bar" data-mode="no-breaker"[^>]*fill="#d62728"\/>\s*<text[^>]*>6\.50 s<\/text>/);
    expect(svg).toContain('fill="url(#testudo-chaos-hatch)"');
    expect(svg).toContain('Recovery time reduction with breakers: +42.5%');
  });

  it('is identical across calls', () => {
    expect(recoveryChart(bench())).toBe(svg);
  });

  it('stays sane with no faults, null figures and a zero maximum', () => {
    const empty = recoveryChart(bench({ recoveryTimeReductionPct: null, withBreaker: run('breaker', { byFault: [] }), withoutBreaker: run('no-breaker', { byFault: [] }) }));
    expectSaneSvg(empty);
    expect(empty).toContain('>no data</text>');
    expect(empty).toContain('Recovery time reduction with breakers: n/a');

    const nulls: FaultGroup = { type: 'split', intensity: 'mild', count: 2, detectMs: null, newLeaderMs: null, firstWriteMs: null, throughputBackMs: null };
    const allNull = recoveryChart(bench({ withBreaker: run('breaker', { byFault: [nulls] }), withoutBreaker: run('no-breaker', { byFault: [{ ...nulls, throughputBackMs: 0 }] }) }));
    expectSaneSvg(allNull);
    expect(count(allNull, /<rect class="bar-na" /)).toBe(1);
    expect(count(allNull, /<rect class="bar" /)).toBe(1);

    const weird = recoveryChart(bench({ seed: Number.NaN, withBreaker: run('breaker', { byFault: [{ ...nulls, throughputBackMs: Number.POSITIVE_INFINITY }] }) }));
    expectSaneSvg(weird);
  });

  it('escapes text', () => {
    const out = recoveryChart(bench({ scenario: `<&>"'` }));
    expectSaneSvg(out);
    expect(out).toContain(`<title>Time to 90% throughput by fault: &lt;&amp;&gt;"' (seed 42)</title>`);
    expect(out).not.toContain('<&>');
  });
});

describe('nice ticks', () => {
  it('steps by 1, 2 or 5 × 10^k', () => {
    expect([0.07, 0.15, 0.3, 0.9, 1, 1.5, 3, 7, 12, 4000].map(niceStep)).toEqual([0.1, 0.2, 0.5, 1, 1, 2, 5, 10, 20, 5000]);
    expect(niceTicks(75.1).ticks).toEqual([0, 20, 40, 60, 80]);
    expect(niceTicks(10).ticks).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0.3).ticks).toEqual([0, 0.1, 0.2, 0.3]);
    expect(niceTicks(0).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(Number.NaN).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
});
