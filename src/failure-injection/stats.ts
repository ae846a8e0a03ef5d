/**
 * The statistics of the chaos benchmark's matrix: Student t quantiles, the
 * mean of a sample with its 95% confidence interval, and the paired
 * comparison of two modes over the same seeds (a difference, or a ratio
 * through its logarithm), with the verdict "gain", "loss" or "no significant
 * difference". Pure: no I/O, no clock, no randomness.
 */

/** A mean and its two-sided 95% interval; the bounds are null below two samples (no spread to measure). */
export interface Interval {
  readonly n: number;
  readonly mean: number | null;
  readonly ci95: readonly [number | null, number | null];
}

export type Verdict = 'gain' | 'loss' | 'no significant difference';

/** A paired comparison: the interval of the difference (or ratio) and what it says. */
export interface Comparison extends Interval {
  readonly verdict: Verdict;
}

/** Most bisection steps of tQuantile (each halves the bracket; 200 is far past double precision). */
export const quantileStepsMax = 200;
/** Most terms of the incomplete beta's continued fraction. */
export const betaTermsMax = 300;
const betaEpsilon = 1e-15;
const tiny = 1e-300;

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; about 15 digits). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma: x must be > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  const z = x - 1;
  let a = c[0]!;
  for (let i = 1; i < c.length; i++) a += c[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The continued fraction of the regularized incomplete beta (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= betaTermsMax; m++) {
    const m2 = 2 * m;
    const even = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + even * d;
    c = 1 + even / c;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = Math.abs(c) < tiny ? tiny : c;
    h *= d * c;
    const odd = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + odd * d;
    c = 1 + odd / c;
    d = 1 / (Math.abs(d) < tiny ? tiny : d);
    c = Math.abs(c) < tiny ? tiny : c;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < betaEpsilon) return h;
  }
  return h;
}

/** I_x(a, b), the regularized incomplete beta function, for x in [0, 1]. */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTCdf: df must be > 0, got ${df}`);
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t with `df` degrees of freedom (bisection on the CDF). */
export function tQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`tQuantile: p must be in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -tQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  for (let i = 0; studentTCdf(hi, df) < p; i++) {
    if (i >= quantileStepsMax) throw new RangeError(`tQuantile: no bracket for p=${p}, df=${df}`);
    lo = hi;
    hi *= 2;
  }
  for (let i = 0; i < quantileStepsMax && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** The mean of `values` and its 95% Student t interval (mean ± t(0.975, n−1)·s/√n). */
export function meanInterval(values: readonly number[]): Interval {
  for (const v of values) if (!Number.isFinite(v)) throw new RangeError(`meanInterval: ${v} is not a finite number`);
  const n = values.length;
  if (n === 0) return { n, mean: null, ci95: [null, null] };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { n, mean, ci95: [null, null] };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const half = tQuantile(0.975, n - 1) * Math.sqrt(variance / n);
  return { n, mean, ci95: [mean - half, mean + half] };
}

/**
 * A gain or a loss only when the interval excludes `neutral` (0 for a
 * difference, 1 for a ratio); which side is the gain depends on whether a
 * lower value is better. Without an interval (fewer than two pairs) there is
 * no significant difference.
 */
export function verdictOf(interval: Interval, neutral: number, lowerIsBetter: boolean): Verdict {
  const [lo, hi] = interval.ci95;
  if (lo === null || hi === null) return 'no significant difference';
  if (hi < neutral) return lowerIsBetter ? 'gain' : 'loss';
  if (lo > neutral) return lowerIsBetter ? 'loss' : 'gain';
  return 'no significant difference';
}

function assertPaired(on: readonly number[], off: readonly number[]): void {
  if (on.length !== off.length) throw new RangeError(`paired samples differ in length: ${on.length} vs ${off.length}`);
}

/** The per-seed differences on − off: their mean, 95% interval and verdict. */
export function pairedDifference(on: readonly number[], off: readonly number[], lowerIsBetter: boolean): Comparison {
  assertPaired(on, off);
  const interval = meanInterval(on.map((v, i) => v - off[i]!));
  return { ...interval, verdict: verdictOf(interval, 0, lowerIsBetter) };
}

/**
 * The per-seed ratios (on + floor) ÷ (off + floor), compared through their
 * logarithms: the Student t interval of the mean log ratio, taken back with
 * exp, so `mean` is the geometric mean ratio and the interval is not
 * symmetric. `floor` is the measure's resolution (one attempt, one
 * throughput bucket…), so that 0 ÷ 0 reads as 1 and 3 ÷ 0 stays finite.
 */
export function pairedRatio(on: readonly number[], off: readonly number[], floor: number, lowerIsBetter: boolean): Comparison {
  assertPaired(on, off);
  if (!(floor >= 0)) throw new RangeError(`pairedRatio: floor must be ≥ 0, got ${floor}`);
  const logs = on.map((v, i) => {
    const num = v + floor;
    const den = off[i]! + floor;
    if (!(num > 0 && den > 0)) throw new RangeError(`pairedRatio: seed #${i + 1} has ${v} ÷ ${off[i]!}; a floor above 0 is needed`);
    return Math.log(num / den);
  });
  const log = meanInterval(logs);
  const exp = (x: number | null): number | null => (x === null ? null : Math.exp(x));
  const interval: Interval = { n: log.n, mean: exp(log.mean), ci95: [exp(log.ci95[0]), exp(log.ci95[1])] };
  return { ...interval, verdict: verdictOf(log, 0, lowerIsBetter) };
}
