import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { benchSummary, withDuration } from '../failure-injection/bench.js';
import { renderBenchMarkdown, renderRunMarkdown, recoveryChart, throughputChart } from '../failure-injection/report/index.js';
import type { ChaosRunResult } from '../failure-injection/results.js';
import { runChaos } from '../failure-injection/runner.js';
import { loadScenario, parseDurationMs, ScenarioError, type Scenario } from '../failure-injection/scenario/index.js';
import { protoDir } from '../common/protos.js';
import { ExitError, UsageError } from './errors.js';
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
    .description('run the same seeded workload and fault schedule with circuit breakers and adaptive recovery on, then off, and compare; the last stdout line is the summary as JSON')
    .option('--seed <n>', 'seeds the schedule, the targets, the workload and the proxy', '42')
    .option('--scenario <file>', 'the workload and fault schedule', 'chaos/scenarios/mixed.yaml')
    .option('--duration <d>', "stretch or shrink the scenario's random fault window and synthetic workload to about this long (e.g. 120s)")
    .option('--compare <what>', 'what to switch off in the second pass (only breaker)', 'breaker')
    .option('--out <dir>', 'write summary.json, report.md, throughput.svg and recovery.svg here', 'chaos-results')
    .option('--data-dir <dir>', 'keep the nodes’ data and logs here (default: a temporary directory, removed)')
    .option('--toxiproxy-url <url>', 'drive this Toxiproxy instead of the built-in one')
    .action(async (o: CommonOptions & { scenario: string; duration?: string; compare: string }) => {
      if (o.compare !== 'breaker') throw new UsageError(`--compare must be breaker, got "${o.compare}"`);
      let scenario = await scenarioAt(o.scenario);
      if (o.duration !== undefined) {
        const ms = parseDurationMs(o.duration);
        if (ms === undefined || ms < 10_000 || ms > 3_600_000) throw new UsageError(`--duration must be 10s..1h (e.g. 120s), got "${o.duration}"`);
        scenario = withDuration(scenario, ms);
      }
      const seed = seedOf(o.seed);
      const url = toxiproxyUrl(o.toxiproxyUrl);
      const pass = (mode: 'breaker' | 'no-breaker'): Promise<ChaosRunResult> =>
        withDataDir(o.dataDir === undefined ? undefined : join(o.dataDir, mode), (dataDir) =>
          runChaos({ scenario, seed, mode, dataDir, log: (line) => progress(`[${mode}] ${line}`), ...(url === undefined ? {} : { toxiproxyUrl: url }) }),
        );
      const withBreaker = await pass('breaker');
      const withoutBreaker = await pass('no-breaker');
      const summary = benchSummary(withBreaker, withoutBreaker);
      const out = join(resolve(o.out), `bench-${scenario.name}-seed${seed}`);
      await mkdir(out, { recursive: true });
      await writeFile(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
      await writeFile(join(out, 'throughput.svg'), throughputChart([withBreaker, withoutBreaker]));
      await writeFile(join(out, 'recovery.svg'), recoveryChart(summary));
      await writeFile(join(out, 'report.md'), renderBenchMarkdown(summary, { throughputSvg: 'throughput.svg', recoverySvg: 'recovery.svg' }));
      progress(`report: ${join(out, 'report.md')}`);
      write(`${JSON.stringify(summary)}\n`);
      if (failedChecks(withBreaker) || failedChecks(withoutBreaker)) throw new ExitError(1);
    });
}
