import { describe, expect, it } from 'vitest';
import { incompleteBeta, meanInterval, pairedDifference, pairedRatio, studentTCdf, tQuantile, verdictOf } from '../../../src/failure-injection/stats.js';

describe('Student t quantiles', () => {
  // Two-sided 95% critical values from the standard t table.
  const table: Array<[number, number]> = [
    [1, 12.706],
    [2, 4.303],
    [3, 3.182],
    [4, 2.776],
    [5, 2.571],
    [9, 2.262],
    [10, 2.228],
    [19, 2.093],
    [30, 2.042],
    [120, 1.98],
  ];
  it.each(table)('t(0.975, %i) = %f', (df, expected) => {
    expect(tQuantile(0.975, df)).toBeCloseTo(expected, 3);
  });

  it('tends to the normal quantile and is symmetric', () => {
    expect(tQuantile(0.975, 1e6)).toBeCloseTo(1.95996, 4);
    expect(tQuantile(0.025, 9)).toBeCloseTo(-2.262, 3);
    expect(tQuantile(0.5, 4)).toBe(0);
    expect(tQuantile(0.995, 9)).toBeCloseTo(3.25, 2);
  });

  it('has a CDF that inverts the quantile and known closed forms', () => {
    // df = 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/π.
    for (const t of [-3, -0.5, 0, 1, 7]) expect(studentTCdf(t, 1)).toBeCloseTo(0.5 + Math.atan(t) / Math.PI, 10);
    expect(studentTCdf(tQuantile(0.9, 7), 7)).toBeCloseTo(0.9, 10);
    expect(incompleteBeta(0.3, 1, 1)).toBeCloseTo(0.3, 12);
    expect(() => tQuantile(1, 3)).toThrow(RangeError);
  });
});

describe('meanInterval', () => {
  it('is mean ± t·s/√n', () => {
    // mean 5, s = sqrt(2.5), n = 5: half width 2.776 · 0.7071 = 1.963.
    const i = meanInterval([3, 4, 5, 6, 7]);
    expect(i.mean).toBe(5);
    expect(i.ci95[0]).toBeCloseTo(5 - 1.9632, 3);
    expect(i.ci95[1]).toBeCloseTo(5 + 1.9632, 3);
  });

  it('has no bounds below two samples, and refuses non-finite values', () => {
    expect(meanInterval([])).toEqual({ n: 0, mean: null, ci95: [null, null] });
    expect(meanInterval([4])).toEqual({ n: 1, mean: 4, ci95: [null, null] });
    expect(() => meanInterval([1, Number.NaN])).toThrow(RangeError);
  });
});

describe('paired comparisons', () => {
  it('calls a consistent difference whose interval excludes zero a gain (or a loss)', () => {
    // Every seed better by 9–11 with adaptive recovery on: the interval lies well below 0.
    const off = [100, 120, 90, 110, 105, 98, 130, 101, 95, 115];
    const on = off.map((v, i) => v - 10 + (i % 3) - 1);
    const d = pairedDifference(on, off, true);
    expect(d.ci95[1]!).toBeLessThan(0);
    expect(d.verdict).toBe('gain');
    expect(pairedDifference(on, off, false).verdict).toBe('loss');
  });

  it('calls noise that straddles zero no significant difference', () => {
    const off = [100, 120, 90, 110, 105, 98, 130, 101, 95, 115];
    const on = off.map((v, i) => v + (i % 2 === 0 ? 12 : -13));
    const d = pairedDifference(on, off, true);
    expect(d.ci95[0]!).toBeLessThan(0);
    expect(d.ci95[1]!).toBeGreaterThan(0);
    expect(d.verdict).toBe('no significant difference');
  });

  it('compares ratios through their logarithms (geometric mean, interval around 1)', () => {
    const off = [40, 50, 45, 60, 55];
    const half = pairedRatio(
      off.map((v) => v / 2),
      off,
      0,
      true,
    );
    expect(half.mean).toBeCloseTo(0.5, 10);
    // All ratios equal: no spread, the interval is the point itself and excludes 1.
    expect(half.ci95[0]).toBeCloseTo(0.5, 10);
    expect(half.verdict).toBe('gain');
    const mixed = pairedRatio([20, 100, 22, 120, 27], off, 0, true);
    expect(mixed.ci95[0]!).toBeLessThan(1);
    expect(mixed.ci95[1]!).toBeGreaterThan(1);
    expect(mixed.verdict).toBe('no significant difference');
  });

  it('reads 0 ÷ 0 as 1 through the floor, and refuses a zero denominator without one', () => {
    const r = pairedRatio([0, 0, 0], [0, 0, 0], 1, true);
    expect(r.mean).toBe(1);
    expect(r.verdict).toBe('no significant difference');
    expect(() => pairedRatio([1], [0], 0, true)).toThrow(RangeError);
    expect(() => pairedRatio([1, 2], [1], 1, true)).toThrow(RangeError);
  });

  it('has no verdict from a single pair', () => {
    expect(verdictOf(meanInterval([-5]), 0, true)).toBe('no significant difference');
  });
});
