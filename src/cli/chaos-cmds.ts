import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { MATRIX_SCENARIOS, withDuration } from '../failure-injection/bench.js';
import { parseSeedList, defaultSeeds, matrixJobsMax, runMatrix, scenarioStats, matrixSummary, scenarioFileName, SeedListError, type MatrixScenario } from '../failure-injection/matrix.js';
import { renderMatrixMarkdown } from '../failure-injection/matrix-report.js';
import { renderRunMarkdown, throughputChart } from '../failure-injection/report/index.js';
import type { ChaosRunResult } from '../failure-injection/results.js';
import { runChaos } from '../failure-injection/runner.js';
import { loadScenario, parseDurationMs, ScenarioError, type Scenario } from '../failure-injection/scenario/index.js';
import { protoDir } from '../common/protos.js';
import { ExitError, UsageError } from './errors.js';
import { integerFlag } from './flags.js';
import type { CliIo } from './io.js';

/** Progress goes to stderr so that stdout's last line is the JSON result. */
function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface CommonOptions {
  seed: string;
  dataDir?: string;
  out: string;
  toxiproxyUrl?: string;
}

function seedOf(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--seed must be a non-negative integer, got "${text}"`);
  return n;
}

async function scenarioAt(path: string): Promise<Scenario> {
  try {
    return await loadScenario(shippedIfAbsent(path));
  } catch (error) {
    if (error instanceof ScenarioError) throw new UsageError(error.message);
    throw error;
  }
}

/** A relative path that names no file here but one shipped with Testudo (chaos/scenarios/…) means the shipped one. */
function shippedIfAbsent(path: string): string {
  if (isAbsolute(path) || existsSync(path)) return path;
  const shipped = join(dirname(protoDir()), path);
  return existsSync(shipped) ? shipped : path;
}

function toxiproxyUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--toxiproxy-url must be an http URL, got "${text}"`);
  }
  if (url.protocol !== 'http:') throw new UsageError(`--toxiproxy-url must be an http URL, got "${text}"`);
  return text.replace(/\/+$/, '');
}

/** Runs `fn` with a data directory: the given one (kept), or a temporary one (removed). */
async function withDataDir<T>(given: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = given === undefined ? await mkdtemp(join(tmpdir(), 'testudo-chaos-')) : resolve(given);
  try {
    return await fn(dir);
  } finally {
    if (given === undefined) await rm(dir, { recursive: true, force: true });
  }
}

interface BenchOptions {
  scenario?: string;
  seeds?: string;
  seed?: string;
  quick?: boolean;
  duration?: string;
  compare: string;
  jobs: string;
}

/** The scenarios of the matrix, each named after its file; --duration applied. */
async function benchScenarios(o: BenchOptions): Promise<MatrixScenario[]> {
  const files = o.scenario === undefined ? [...MATRIX_SCENARIOS] : o.scenario.split(',').map((f) => f.trim()).filter((f) => f !== '');
  if (files.length === 0) throw new UsageError(`--scenario must name at least one scenario file, got "${o.scenario ?? ''}"`);
  const loaded: Array<{ file: string; scenario: Scenario }> = [];
  for (const file of files) loaded.push({ file, scenario: await scenarioAt(file) });
  let durationMs: number | undefined;
  if (o.duration !== undefined) {
    durationMs = parseDurationMs(o.duration);
    if (durationMs === undefined || durationMs < 10_000 || durationMs > 3_600_000) throw new UsageError(`--duration must be 10s..1h (e.g. 120s), got "${o.duration}"`);
  }
  const out: MatrixScenario[] = [];
  for (const { file, scenario } of loaded) {
    const name = scenarioFileName(file);
    if (out.some((s) => s.name === name)) throw new UsageError(`--scenario names ${name} twice`);
    out.push({ name, scenario: durationMs === undefined ? scenario : withDuration(scenario, durationMs) });
  }
  return out;
}

/** --seeds (default 1..10) or --seed; --quick keeps the first. */
function benchSeeds(o: BenchOptions): number[] {
  if (o.seeds !== undefined && o.seed !== undefined) throw new UsageError('give --seeds or --seed, not both');
  let seeds: number[] = [...defaultSeeds];
  if (o.seed !== undefined) seeds = [seedOf(o.seed)];
  if (o.seeds !== undefined) {
    try {
      seeds = parseSeedList(o.seeds);
    } catch (error) {
      if (error instanceof SeedListError) throw new UsageError(`--seeds must be a range like 1..10 or a list like 1,4,9: ${error.message}, got "${o.seeds}"`);
      throw error;
    }
  }
  return o.quick === true ? seeds.slice(0, 1) : seeds;
}

function failedChecks(r: ChaosRunResult): boolean {
  const c = r.checks;
  return c.lostTasks + c.duplicateResults + c.divergentReplicas + c.splitBrainTerms + c.steadyStateViolations > 0 || !c.ready;
}

export function registerChaosCommands(program: Command, io: CliIo): void {
  const write = io.out;
  const chaos = program.command('chaos').description('fault injection on a local cluster wired through fault proxies (docs/chaos.md)');
  chaos
    .command('run')
    .description('run a scenario: start a local cluster behind fault proxies, run its workload, inject and heal its faults, check safety; the last stdout line is the result as JSON')
    .argument('<scenario>', 'a scenario file, e.g. chaos/scenarios/ci-short.yaml')
    .option('--seed <n>', 'seeds the random schedule, the targets, the workload and the proxy', '42')
    .option('--mode <mode>', 'breaker (circuit breakers and adaptive recovery on) or no-breaker', 'breaker')
    .option('--out <dir>', 'write result.json, report.md and throughput.svg here', 'chaos-results')
    .option('--data-dir <dir>', 'keep the nodes’ data and logs here (default: a temporary directory, removed)')
    .option('--toxiproxy-url <url>', 'drive this Toxiproxy instead of the built-in one')
    .action(async (file: string, o: CommonOptions & { mode: string }) => {
      if (o.mode !== 'breaker' && o.mode !== 'no-breaker') throw new UsageError(`--mode must be breaker or no-breaker, got "${o.mode}"`);
      const scenario = await scenarioAt(file);
      const seed = seedOf(o.seed);
      const url = toxiproxyUrl(o.toxiproxyUrl);
      const result = await withDataDir(o.dataDir, (dataDir) =>
        runChaos({ scenario, seed, mode: o.mode as 'breaker' | 'no-breaker', dataDir, log: progress, ...(url === undefined ? {} : { toxiproxyUrl: url }) }),
      );
      const out = join(resolve(o.out), `${scenario.name}-seed${seed}`);
      await mkdir(out, { recursive: true });
      await writeFile(join(out, 'result.json'), `${JSON.stringify(result, null, 2)}\n`);
      await writeFile(join(out, 'throughput.svg'), throughputChart([result]));
      await writeFile(join(out, 'report.md'), renderRunMarkdown(result));
      progress(`report: ${join(out, 'report.md')}`);
      write(`${JSON.stringify(result)}\n`);
      if (failedChecks(result)) throw new ExitError(1);
    });
  chaos
    .command('bench')
    .description(
      'the benchmark matrix: every scenario × every seed with adaptive recovery (circuit breakers, the ladder) on, then off; per scenario the mean and 95% interval of each figure and of on vs off; the last stdout line is the summary as JSON',
    )
    .option('--scenario <files>', `comma-separated scenario files (default: the matrix set, ${MATRIX_SCENARIOS.length} files in chaos/scenarios/)`)
    .option('--seeds <list>', 'seeds of every scenario: a range 1..10, a list 1,4,9, or both (default 1..10)')
    .option('--seed <n>', 'one seed (the same as --seeds <n>)')
    .option('--quick', 'one seed per scenario (the first of --seeds)')
    .option('--duration <d>', "stretch or shrink each scenario's random fault window and synthetic workload to about this long (e.g. 120s)")
    .option('--compare <what>', 'what to switch off in the second pass (only breaker)', 'breaker')
    .option('--jobs <n>', `1: one pass at a time; 2: a seed's two passes (on and off) side by side, under the same load (docs/chaos.md, "Cost")`, '1')
    .option('--out <dir>', 'write matrix.json, report.md and every pass’s result under <dir>/bench-matrix/', 'chaos-results')
    .option('--data-dir <dir>', 'keep the nodes’ data and logs here (default: a temporary directory per pass, removed)')
    .option('--toxiproxy-url <url>', 'drive this Toxiproxy instead of the built-in one')
    .action(async (o: Omit<CommonOptions, 'seed'> & BenchOptions) => {
      if (o.compare !== 'breaker') throw new UsageError(`--compare must be breaker, got "${o.compare}"`);
      const scenarios = await benchScenarios(o);
      const seeds = benchSeeds(o);
      const jobs = integerFlag('--jobs', o.jobs, 1, matrixJobsMax);
      const url = toxiproxyUrl(o.toxiproxyUrl);
      const err = (line: string): void => io.err(`${line}\n`);
      const startMs = Date.now();
      const passes = await runMatrix({
        scenarios,
        seeds,
        jobs,
        log: err,
        runPass: (s, seed, mode) =>
          withDataDir(o.dataDir === undefined ? undefined : join(o.dataDir, s.name, `seed${seed}`, mode), (dataDir) =>
            runChaos({ scenario: s.scenario, seed, mode, dataDir, log: (line) => err(`[${s.name} ${seed} ${mode}] ${line}`), ...(url === undefined ? {} : { toxiproxyUrl: url }) }),
          ),
      });
      const figures = passes.map((p) => p.figures);
      const stats = scenarios.map((s) => scenarioStats(s.name, figures));
      const summary = matrixSummary(stats, figures);
      const report = renderMatrixMarkdown(stats, summary);
      const out = join(resolve(o.out), 'bench-matrix');
      await mkdir(join(out, 'passes'), { recursive: true });
      for (const p of passes) await writeFile(join(out, 'passes', `${p.figures.scenario}-seed${p.figures.seed}-${p.figures.mode}.json`), `${JSON.stringify(p.result)}\n`);
      await writeFile(join(out, 'matrix.json'), `${JSON.stringify({ seeds, passes: figures, scenarios: stats, summary }, null, 2)}\n`);
      await writeFile(join(out, 'report.md'), report);
      err(`${passes.length} passes in ${((Date.now() - startMs) / 60_000).toFixed(1)} min (--jobs ${jobs})`);
      err(`report: ${join(out, 'report.md')}`);
      write(report);
      write(`${JSON.stringify(summary)}\n`);
      if (passes.some((p) => failedChecks(p.result))) throw new ExitError(1);
    });
}
