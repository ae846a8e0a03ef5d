import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { TestudoClient } from '../client/index.js';
import type { LocalCluster } from '../cluster/local-cluster.js';
import { assert } from '../common/assert.js';
import { splitByTimings } from '../coordinator/orchestrator/history.js';
import type { RunSubmission, TaskTemplate, TestCaseResult } from '../model/types.js';
import { parseJUnitXml } from '../report/junit-parse.js';
import { mergeRun } from '../report/merge.js';
import { expandSpec, loadSpec } from '../spec/index.js';
import { median } from './etcd-compare.js';
import { readProcessCpuSeconds } from './process-stats.js';
import { compareOutcomes, outcomeOf, type OutcomeComparison, type TestOutcome } from './oss-compare.js';
import { stamped, startBenchCluster, waitRunEnd } from './schedule.js';

/**
 * `testudo bench oss-suite --spec FILE`: a real suite run by its own runner
 * directly and through a local cluster at equal parallelism P (workers ×
 * slots), in alternating runs (cluster, direct, cluster, direct …) after one
 * untimed warm-up of each. The spec has one suite sharded into P; the direct
 * side runs that suite's command itself, P processes at once, on the very
 * shards the cluster has just run (its `by: timings` split, from each task's
 * files), so both sides run the same processes on the same files and the
 * difference is Testudo's. Each round's outcomes are compared test by test
 * (oss-compare.ts); wall times are spawn → last exit (direct) and submit →
 * merged report fetched (cluster).
 */

export const ossRoundsDefault = 3;
export const ossRoundsMax = 20;
/** Longest one side of one round may take before the bench gives up. */
export const ossSideTimeoutMs = 30 * 60_000;
/** The cluster counts as quiet below this many cores of CPU (its idle heartbeats and polls stay under it). */
export const quietCpuCores = 0.15;
export const quietPollMs = 500;
/** Longest wait for a quiet cluster before a side starts anyway. */
export const quietWaitMsMax = 20_000;

export interface OssSuiteOptions {
  readonly specPath: string;
  readonly workers: number;
  readonly slots: number;
  readonly rounds: number;
  /** Keep the cluster and the direct reports here (default: a temp dir, removed afterwards). */
  readonly dataDir?: string;
}

/** The spec cannot be run by this bench: `message` says why. */
export class OssSuiteSpecError extends Error {
  override readonly name = 'OssSuiteSpecError';
}

/** The suite as the direct side runs it. */
export interface SuitePlan {
  readonly runName: string;
  readonly suite: string;
  readonly template: TaskTemplate;
  /** Absolute directory the command runs in. */
  readonly cwd: string;
  /** Relative to `cwd`, sorted. */
  readonly files: readonly string[];
  readonly parallelism: number;
}

export interface DirectRun {
  readonly wallMs: number;
  readonly shardWallMs: readonly number[];
  readonly exitCodes: readonly (number | null)[];
  readonly tests: readonly TestCaseResult[];
}

export interface ClusterRun {
  readonly wallMs: number;
  readonly runId: string;
  readonly state: string;
  readonly tests: readonly TestOutcome[];
  /** Each task's files, in shard order: the split the cluster ran. */
  readonly shards: readonly (readonly string[])[];
}

export interface OssRound {
  readonly directMs: number;
  readonly clusterMs: number;
  readonly directShardMs: readonly number[];
  readonly clusterRunId: string;
  readonly same: boolean;
  readonly differenceCount: number;
  /** Waits for a quiet cluster before the cluster side and before the direct side (untimed). */
  readonly settleMs: readonly number[];
}

export interface OssSuiteResult {
  bench: 'oss-suite';
  run: string;
  suite: string;
  files: number;
  parallelism: number;
  workers: number;
  slots: number;
  rounds: OssRound[];
  median: { directMs: number; clusterMs: number };
  range: { directMs: [number, number]; clusterMs: [number, number] };
  /** median cluster ÷ median direct: 1.05 is 5% overhead. */
  overhead: number;
  /** The comparison of the first round whose outcomes differ, else of the last round (each round's verdict is in `rounds`). */
  outcomes: OutcomeComparison;
  /** Every round gave the same per-test outcomes both ways. */
  sameOutcomes: boolean;
  loadAverage: { start: number[]; end: number[] };
}

/** Checks that the submission is one suite sharded into `parallelism`, and lays out how to run it directly. */
export function suitePlan(submission: RunSubmission, parallelism: number): SuitePlan {
  const suites = new Set(submission.tasks.map((t) => t.suite));
  if (suites.size !== 1) throw new OssSuiteSpecError(`the spec must have exactly one suite, it has ${suites.size}`);
  const template = submission.tasks[0];
  assert(template !== undefined, 'a suite without tasks');
  if (Object.keys(template.matrix).length > 0) throw new OssSuiteSpecError('the suite must have no matrix');
  // The direct side reruns the cluster's shards: queue mode has batches, not P fixed shards.
  if (template.queue === true) throw new OssSuiteSpecError('shards by: queue cannot be rerun directly: use by: timings or by: count');
  if (template.shardCount !== parallelism) {
    throw new OssSuiteSpecError(`the suite has ${template.shardCount} shards; workers × slots is ${parallelism}: make them equal`);
  }
  const files = [...new Set(submission.tasks.flatMap((t) => t.files))].sort();
  if (files.length === 0) throw new OssSuiteSpecError('the suite lists no files');
  const cwd = isAbsolute(template.cwd) ? template.cwd : resolve(submission.sourceDir, template.cwd);
  return { runName: submission.name, suite: template.suite, template, cwd, files, parallelism };
}

/**
 * Splits the files into `parallelism` shards the way the coordinator splits
 * `by: timings` (its own splitByTimings: longest first by `secByFile`); a
 * file it does not know counts as the median known one (1 s when none is
 * known, which deals the files evenly by count: the warm-up's split).
 */
export function directShards(files: readonly string[], secByFile: ReadonlyMap<string, number>, parallelism: number): string[][] {
  const known = files.map((f) => secByFile.get(f)).filter((sec): sec is number => sec !== undefined);
  const unknownSec = known.length === 0 ? 1 : median(known);
  const shards = splitByTimings(files, parallelism, (f) => (secByFile.get(f) ?? unknownSec) * 1000);
  assert(shards.flat().length === files.length, 'a direct split lost or doubled a file');
  return shards;
}

function shardEnv(plan: SuitePlan, shard: number, files: readonly string[], junitPath: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...plan.template.env };
  env['TESTUDO_JUNIT'] = junitPath;
  env['TESTUDO_SHARD'] = `${shard}/${plan.parallelism}`;
  env['TESTUDO_SHARD_INDEX'] = String(shard);
  env['TESTUDO_SHARD_COUNT'] = String(plan.parallelism);
  env['TESTUDO_FILES'] = files.join(' ');
  env['TESTUDO_ATTEMPT'] = '1';
  env['TESTUDO_CHECKOUT'] = plan.cwd;
  return env;
}

function sameFiles(a: readonly string[], b: readonly string[]): boolean {
  const left = [...a].sort();
  const right = [...b].sort();
  return left.length === right.length && left.every((f, i) => f === right[i]);
}

/** Runs the suite's command once per shard, all at once, as a worker would (sh -c in the suite's cwd). */
export async function runDirect(plan: SuitePlan, shards: readonly (readonly string[])[], reportDir: string): Promise<DirectRun> {
  await mkdir(reportDir, { recursive: true });
  const startedAtMs = performance.now();
  const ends = await Promise.all(
    shards.map(async (files, i) => {
      const junitPath = join(reportDir, `shard-${i + 1}.xml`);
      if (files.length === 0) return { code: 0, atMs: performance.now(), junitPath: null };
      const code = await runShell(plan.template.command, plan.cwd, shardEnv(plan, i + 1, files, junitPath));
      return { code, atMs: performance.now(), junitPath };
    }),
  );
  const wallMs = Math.round(performance.now() - startedAtMs);
  const tests: TestCaseResult[] = [];
  for (const end of ends) {
    if (end.junitPath === null) continue;
    tests.push(...parseJUnitXml(await readFile(end.junitPath, 'utf8'), { file: end.junitPath }).tests);
  }
  return { wallMs, shardWallMs: ends.map((e) => Math.round(e.atMs - startedAtMs)), exitCodes: ends.map((e) => e.code), tests };
}

function runShell(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<number | null> {
  return new Promise((done, fail) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), ossSideTimeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
  });
}

/** Submits the run, follows it to its end and fetches its merged report. */
export async function runThroughCluster(client: TestudoClient, submission: RunSubmission): Promise<ClusterRun> {
  const startedAtMs = performance.now();
  const { runId } = await client.submitRun(submission);
  const summary = await waitRunEnd(client, runId);
  const run = await client.getRun(runId);
  const merged = mergeRun(run);
  const wallMs = Math.round(performance.now() - startedAtMs);
  const tests = merged.suites.flatMap((s) => s.tests).map((t) => ({ id: t.id, status: t.status }));
  const shards = [...run.tasks].sort((a, b) => a.template.shard - b.template.shard).map((t) => t.files);
  return { wallMs, runId, state: summary.state, tests, shards };
}

/** The whole bench: one cluster, warm-ups, then `rounds` alternating pairs. */
export async function runOssSuite(options: OssSuiteOptions, progress: (line: string) => void): Promise<OssSuiteResult> {
  const log = stamped(progress);
  const parallelism = options.workers * options.slots;
  const submission = await expandSpec(await loadSpec(options.specPath));
  const plan = suitePlan(submission, parallelism);
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'testudo-oss-')));
  const loadStart = loadavg();
  log(`${plan.suite}: ${plan.files.length} files, parallelism ${parallelism} (${options.workers} workers × ${options.slots} slots), load ${loadStart.map((l) => l.toFixed(2)).join(' ')}`);
  let started: Awaited<ReturnType<typeof startBenchCluster>> | undefined;
  try {
    started = await startBenchCluster(join(dataDir, 'cluster'), options.workers, { slots: options.slots, executor: 'process' }, log);
    const rounds = await runRounds(plan, submission, started, options.rounds, dataDir, log);
    return summarize(plan, options, rounds, loadStart);
  } finally {
    started?.client.close();
    await started?.cluster.stop();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  }
}

/**
 * Waits until the cluster's processes (coordinators and workers) use less
 * than {@link quietCpuCores} over one poll, at most {@link quietWaitMsMax}:
 * the work the coordinators do after a run ended (compaction, snapshots)
 * would otherwise slow whichever side runs next. Returns the time waited.
 */
export async function waitClusterQuiet(cluster: LocalCluster): Promise<number> {
  const startedAtMs = performance.now();
  const pids = [...cluster.members.values(), ...cluster.workers.values()].map((p) => p.child?.pid).filter((pid): pid is number => pid !== undefined);
  const cpuSeconds = async (): Promise<number> => (await Promise.all(pids.map((pid) => readProcessCpuSeconds(pid).catch(() => 0)))).reduce((a, b) => a + b, 0);
  let before = await cpuSeconds();
  while (performance.now() - startedAtMs < quietWaitMsMax) {
    await new Promise((resolve) => setTimeout(resolve, quietPollMs));
    const after = await cpuSeconds();
    if ((after - before) / (quietPollMs / 1000) < quietCpuCores) break;
    before = after;
  }
  return Math.round(performance.now() - startedAtMs);
}

export interface RoundDetail {
  readonly round: OssRound;
  readonly comparison: OutcomeComparison;
  readonly clusterState: string;
  readonly clusterShards: readonly (readonly string[])[];
}

/**
 * One run through the cluster, then one direct run on the shards it ran:
 * the same files in the same processes, so that a suite whose tests depend
 * on which files share a process (mathjs has one) is compared like for like.
 */
export async function runRound(plan: SuitePlan, submission: RunSubmission, client: TestudoClient, reportDir: string, settle: () => Promise<number>): Promise<RoundDetail> {
  const settleMs = [await settle()];
  const cluster = await runThroughCluster(client, submission);
  assert(cluster.shards.length === plan.parallelism, `the cluster ran ${cluster.shards.length} tasks, not ${plan.parallelism}`);
  assert(sameFiles(cluster.shards.flat(), plan.files), "the cluster's shards are not the suite's files");
  settleMs.push(await settle());
  const direct = await runDirect(plan, cluster.shards, reportDir);
  const comparison = compareOutcomes(direct.tests.map(outcomeOf), cluster.tests);
  const round: OssRound = {
    directMs: direct.wallMs,
    clusterMs: cluster.wallMs,
    directShardMs: direct.shardWallMs,
    clusterRunId: cluster.runId,
    same: comparison.same,
    differenceCount: comparison.differenceCount,
    settleMs,
  };
  return { round, comparison, clusterState: cluster.state, clusterShards: cluster.shards };
}

async function runRounds(plan: SuitePlan, submission: RunSubmission, started: { cluster: LocalCluster; client: TestudoClient }, rounds: number, dataDir: string, log: (line: string) => void): Promise<RoundDetail[]> {
  const { client } = started;
  const settle = (): Promise<number> => waitClusterQuiet(started.cluster);
  // Warm-ups, untimed: the page cache, and the cluster's timing history.
  const warm = await runDirect(plan, directShards(plan.files, new Map(), plan.parallelism), join(dataDir, 'direct-warmup'));
  log(`warm-up direct: ${warm.wallMs} ms, ${warm.tests.length} tests`);
  await settle();
  const warmCluster = await runThroughCluster(client, submission);
  log(`warm-up cluster: ${warmCluster.wallMs} ms, run ${warmCluster.runId} ${warmCluster.state}, ${warmCluster.tests.length} tests`);
  const out: RoundDetail[] = [];
  for (let i = 1; i <= rounds; i++) {
    const detail = await runRound(plan, submission, client, join(dataDir, `direct-${i}`), settle);
    const { round, comparison } = detail;
    log(`round ${i}: cluster ${round.clusterMs} ms (${detail.clusterState}), direct ${round.directMs} ms, ${comparison.same ? 'same outcomes' : `${comparison.differenceCount} tests differ`}`);
    out.push(detail);
  }
  return out;
}

function summarize(plan: SuitePlan, options: OssSuiteOptions, details: readonly RoundDetail[], loadStart: number[]): OssSuiteResult {
  const last = details[details.length - 1];
  assert(last !== undefined, 'a bench without rounds');
  const rounds = details.map((d) => d.round);
  const direct = rounds.map((r) => r.directMs);
  const cluster = rounds.map((r) => r.clusterMs);
  const directMedian = median(direct);
  const clusterMedian = median(cluster);
  const firstDiffering = details.find((d) => !d.comparison.same);
  return {
    bench: 'oss-suite',
    run: plan.runName,
    suite: plan.suite,
    files: plan.files.length,
    parallelism: plan.parallelism,
    workers: options.workers,
    slots: options.slots,
    rounds,
    median: { directMs: directMedian, clusterMs: clusterMedian },
    range: { directMs: [Math.min(...direct), Math.max(...direct)], clusterMs: [Math.min(...cluster), Math.max(...cluster)] },
    overhead: Math.round((clusterMedian / directMedian) * 1000) / 1000,
    outcomes: (firstDiffering ?? last).comparison,
    sameOutcomes: firstDiffering === undefined,
    loadAverage: { start: loadStart.map(round2), end: loadavg().map(round2) },
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
