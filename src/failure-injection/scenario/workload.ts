// The synthetic workload of a chaos scenario: seeded task durations, and a
// real Testudo run spec whose tasks run chaos/workloads/synthetic-test.mjs
// (a node program that works, then sleeps, for its duration and writes a
// one-case JUnit report to $TESTUDO_JUNIT).

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { SPEC_LIMITS } from '../../spec/index.js';
import { createPrng, type UniformRandom } from '../../common/rand.js';
import type { SyntheticWorkload, TaskDuration } from './types.js';

/** Task durations are clamped to this range (ms). */
export const TASK_DURATION_MS_MIN = 1;
export const TASK_DURATION_MS_MAX = 600_000;

/** The standard normal quantile of 0.95: p95 = median · exp(1.645 σ). */
export const NORMAL_P95_Z = 1.6448536269514722;

/**
 * Mixed into the run's seed so the durations do not reuse the random stream
 * of the fault schedule (which starts from seed + seedOffset).
 */
const WORKLOAD_SEED_SALT = 0x5eed_da7a;

/** Default share of each task's duration spent computing (CPU time) rather than sleeping. */
export const BUSY_FRACTION_DEFAULT = 0.1;

/** A standard normal variate (Box–Muller). */
function standardNormal(rng: UniformRandom): number {
  const u = 1 - rng(); // (0, 1]: log(u) is finite
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function drawMs(duration: TaskDuration, rng: UniformRandom): number {
  switch (duration.distribution) {
    case 'fixed':
      return duration.valueMs;
    case 'uniform':
      return duration.minMs + rng() * (duration.maxMs - duration.minMs);
    case 'lognormal': {
      const sigma = Math.log(duration.p95Ms / duration.medianMs) / NORMAL_P95_Z;
      return Math.exp(Math.log(duration.medianMs) + sigma * standardNormal(rng));
    }
  }
}

/**
 * One duration (whole ms, within [1 ms, 10 min]) per task, deterministic for
 * a seed. Lognormal: log(d) ~ N(ln median, σ²) with σ = ln(p95/median)/1.645.
 */
export function syntheticTaskDurations(synthetic: SyntheticWorkload, seed: number): number[] {
  if (!Number.isInteger(synthetic.tasks) || synthetic.tasks < 0) throw new RangeError(`tasks must be a non-negative integer, got ${synthetic.tasks}`);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const rng = createPrng((Math.trunc(seed) ^ WORKLOAD_SEED_SALT) >>> 0);
  return Array.from({ length: synthetic.tasks }, () => {
    const ms = Math.round(drawMs(synthetic.duration, rng));
    return Math.min(TASK_DURATION_MS_MAX, Math.max(TASK_DURATION_MS_MIN, ms));
  });
}

/** The name of the 0-based task `index`'s test: synthetic-0001, synthetic-0002... (more digits past 9999). */
export function syntheticTestName(index: number): string {
  if (!Number.isInteger(index) || index < 0) throw new RangeError(`index must be a non-negative integer, got ${index}`);
  return `synthetic-${String(index + 1).padStart(4, '0')}`;
}

/**
 * Absolute path of chaos/workloads/synthetic-test.mjs, found from this
 * module's location (src/… when run from source, dist/src/… when built).
 */
export function syntheticTestProgramPath(): string {
  const candidates = ['../../../chaos/workloads/synthetic-test.mjs', '../../../../chaos/workloads/synthetic-test.mjs'].map((rel) =>
    fileURLToPath(new URL(rel, import.meta.url)),
  );
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) throw new Error(`chaos/workloads/synthetic-test.mjs not found (looked for ${candidates.join(', ')})`);
  return found;
}

/** Quotes a word for /bin/sh. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface SyntheticRunSpecOptions {
  /** The run's name; default `chaos-synthetic`. */
  readonly name?: string;
  /** The node binary the tasks run; default process.execPath. */
  readonly nodePath?: string;
  /** Default syntheticTestProgramPath(). */
  readonly programPath?: string;
  /** Share of each duration spent computing (0..1), the rest sleeping; default 0.1. */
  readonly busyFraction?: number;
}

export interface SyntheticSuiteDocument {
  readonly name: string;
  readonly command: string;
  /** Present when a suite carries several tasks (more tasks than a spec has suites). */
  readonly shards?: number;
  readonly timeoutSec: number;
}

/** A testudo.yaml as plain data (docs/spec.md). */
export interface SyntheticSpecDocument {
  readonly name: string;
  readonly suites: readonly SyntheticSuiteDocument[];
}

export interface SyntheticRunSpec {
  readonly document: SyntheticSpecDocument;
  /** The document as testudo.yaml text, for parseSpecText or a file. */
  readonly text: string;
  /** The duration of each task, in test order (synthetic-0001 first). */
  readonly durationsMs: readonly number[];
}

/** Generous: a throttled worker (worker-slow) or a paused one (worker-hang) stretches a task well past its duration. */
function suiteTimeoutSec(durationsMs: readonly number[]): number {
  const longestMs = Math.max(...durationsMs);
  return Math.min(SPEC_LIMITS.maxTimeoutSec, Math.max(60, Math.ceil((longestMs * 4) / 1000) + 60));
}

/**
 * A real run spec for the synthetic workload: one task per test. Up to 1000
 * tasks (the spec's suite limit) every task is its own suite, named like its
 * test (`synthetic-0001`); beyond, or with `suites` given, consecutive tasks
 * share a suite (`synthetic-1001-1005`) as its shards, each shard running
 * its own test. The
 * command names node and the program by absolute path, so it runs from any
 * directory.
 */
export function syntheticRunSpec(synthetic: SyntheticWorkload, seed: number, options: SyntheticRunSpecOptions = {}): SyntheticRunSpec {
  const durationsMs = syntheticTaskDurations(synthetic, seed);
  if (durationsMs.length === 0) throw new RangeError('a synthetic workload needs at least one task');
  const busyFraction = options.busyFraction ?? BUSY_FRACTION_DEFAULT;
  if (!(busyFraction >= 0 && busyFraction <= 1)) throw new RangeError(`busyFraction must be in [0, 1], got ${busyFraction}`);
  const node = shellQuote(options.nodePath ?? process.execPath);
  const program = shellQuote(options.programPath ?? syntheticTestProgramPath());
  const perSuite = Math.ceil(durationsMs.length / Math.min(SPEC_LIMITS.maxSuites, synthetic.suites ?? SPEC_LIMITS.maxSuites));
  const suites: SyntheticSuiteDocument[] = [];
  for (let first = 0; first < durationsMs.length; first += perSuite) {
    const group = durationsMs.slice(first, first + perSuite);
    const last = first + group.length - 1;
    const name = group.length === 1 ? syntheticTestName(first) : `${syntheticTestName(first)}-${syntheticTestName(last).slice('synthetic-'.length)}`;
    const command =
      `${node} ${program} --first ${first + 1} --durations-ms ${group.join(',')} ` +
      `--busy-fraction ${busyFraction} --shard "$TESTUDO_SHARD_INDEX"`;
    const timeoutSec = suiteTimeoutSec(group);
    suites.push(group.length === 1 ? { name, command, timeoutSec } : { name, command, shards: group.length, timeoutSec });
  }
  const document: SyntheticSpecDocument = { name: options.name ?? 'chaos-synthetic', suites };
  const header = `# Generated by syntheticRunSpec (seed ${seed}): ${durationsMs.length} synthetic tests.\n`;
  return { document, text: header + stringify(document, { lineWidth: 0 }), durationsMs };
}
