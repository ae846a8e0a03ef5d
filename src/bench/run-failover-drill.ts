import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { TestudoClient } from '../client/index.js';
import { LocalCluster, testudoCommand } from '../cluster/local-cluster.js';
import type { RunView } from '../model/index.js';
import { waitCaughtUp } from './failover-drill.js';
import { quantile, round } from './load.js';
import { waitForLeader } from './raft.js';

/**
 * The failover drill with a real run in flight (`testudo drill failover
 * --workload run`): a local cluster with worker processes runs a run of short
 * tasks, followed by a `testudo run` child process; mid-run the leader is
 * killed with SIGKILL (mode kill: it comes back only after the run; mode
 * restart: it is started again at once). Each round measures how long until
 * tasks are dispatched again and every worker is back in session, counts the
 * attempts run again, and checks that every client command exited with the
 * right code without hanging. Baseline rounds run the same run with no fault.
 */

export type RunDrillMode = 'kill' | 'restart';
export const runDrillModes: readonly RunDrillMode[] = ['kill', 'restart'];

export interface RunDrillOptions {
  readonly rounds: number;
  readonly modes: readonly RunDrillMode[];
  /** Rounds with no fault, for the run's duration without one. */
  readonly baselineRounds: number;
  readonly tasks: number;
  /** How long each task sleeps. */
  readonly taskMs: number;
  readonly workers: number;
  readonly slots: number;
  /** The leader is killed once this share of the tasks is done. */
  readonly killAtFraction: number;
  /** `--timeout-ms` of the client commands. */
  readonly clientTimeoutMs: number;
  readonly coordinators: number;
  readonly dataDir?: string;
}

export const runDrillDefaults = {
  tasks: 150,
  taskMs: 300,
  workers: 3,
  slots: 4,
  baselineRounds: 3,
  killAtFraction: 0.3,
  clientTimeoutMs: 30_000,
} as const;

/** A client command that has not exited this long after its run ended counts as hung (and is killed). */
export const commandHangMs = 60_000;
/** Longest a round waits for anything (a run to end, workers, a leader) before it fails. */
export const roundWaitMaxMs = 180_000;
/** Poll interval of the drill's probes. */
const pollMs = 20;

export interface CommandOutcome {
  readonly command: string;
  readonly exitCode: number | null;
  readonly expectedCode: number;
  readonly hung: boolean;
  readonly ms: number;
}

export interface RunRound {
  readonly mode: RunDrillMode | 'baseline';
  readonly round: number;
  readonly runId: string;
  readonly state: string;
  readonly runDurationMs: number;
  /** Kill → a leader elected (null in baseline rounds). */
  readonly electedMs: number | null;
  /** Kill → the first attempt assigned after it. */
  readonly dispatchResumedMs: number | null;
  /** Kill → every worker back in session with the new leader. */
  readonly workersBackMs: number | null;
  /** Leader elected → every worker back in session. */
  readonly workersBackAfterElectionMs: number | null;
  /** Attempts beyond one per task: runs of a task again (the workload has no failures or retries). */
  readonly reruns: number;
  readonly commands: readonly CommandOutcome[];
}

export interface RunDrillResult {
  workload: 'run';
  tasks: number;
  taskMs: number;
  workers: number;
  slots: number;
  baseline: { rounds: number; runDurationMs: number[]; medianRunDurationMs: number };
  modes: Record<string, ModeSummary>;
  rounds: RunRound[];
  reruns: number;
  hangs: number;
  wrongExitCodes: number;
  ok: boolean;
}

export interface ModeSummary {
  rounds: number;
  medianElectedMs: number;
  medianDispatchResumedMs: number;
  medianWorkersBackMs: number;
  medianWorkersBackAfterElectionMs: number;
  maxWorkersBackAfterElectionMs: number;
  medianRunDurationMs: number;
  /** Median run duration minus the baseline's median. */
  medianSlowdownMs: number;
  reruns: number;
  hangs: number;
  wrongExitCodes: number;
}

export async function runRunFailoverDrill(options: RunDrillOptions, log: (line: string) => void): Promise<RunDrillResult> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'testudo-run-drill-')));
  const cluster = new LocalCluster({ coordinators: options.coordinators, dataDir, baseHttpPort: null, logLevel: 'info' });
  const rounds: RunRound[] = [];
  try {
    await cluster.start();
    const specPath = await writeDrillSpec(dataDir, options.tasks, options.taskMs);
    const client = new TestudoClient({ endpoints: cluster.endpoints(), totalTimeoutMs: 30_000, callTimeoutMs: 1000, retry: { attemptsMax: 1000, backoffBaseMs: 10, backoffMaxMs: 100 } });
    try {
      for (let i = 1; i <= options.workers; i++) await cluster.startWorker(`w${i}`, { slots: options.slots, killGraceMs: 500 });
      const drill = new RoundRunner(cluster, client, options, specPath, dataDir);
      for (let round = 1; round <= options.baselineRounds; round++) rounds.push(await drill.round('baseline', round, log));
      for (const mode of options.modes) for (let round = 1; round <= options.rounds; round++) rounds.push(await drill.round(mode, round, log));
    } finally {
      client.close();
    }
  } finally {
    await cluster.stop();
    if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
  }
  return summarize(options, rounds);
}

/** A spec of `tasks` shell tasks, each sleeping `taskMs` and reporting one passing test (and `failing` tasks reporting a failed one). */
export async function writeDrillSpec(dir: string, tasks: number, taskMs: number, failing = 0): Promise<string> {
  const seconds = (taskMs / 1000).toFixed(3);
  const report = `printf '<testsuite name="drill" tests="1"><testcase classname="drill" name="t%s" time="${seconds}"/></testsuite>\\n' "$TESTUDO_SHARD_INDEX" > "$TESTUDO_JUNIT"`;
  const lines = [
    'name: failover-drill',
    'suites:',
    '  - name: quick',
    `    command: sleep ${seconds}; ${report}`,
    `    shards: ${tasks}`,
    '    timeoutSec: 120',
  ];
  const failed = `printf '<testsuite name="drill" tests="1" failures="1"><testcase classname="drill" name="f%s"><failure message="deliberate"/></testcase></testsuite>\\n' "$TESTUDO_SHARD_INDEX" > "$TESTUDO_JUNIT"`;
  if (failing > 0) lines.push('  - name: failing', `    command: sleep ${seconds}; ${failed}; exit 1`, `    shards: ${failing}`);
  const path = join(dir, 'drill-spec.yaml');
  await writeFile(path, `${lines.join('\n')}\n`);
  return path;
}

/** A `testudo` CLI child process; resolves with its exit code, or hung after `hangAfter()` says so. */
export class CliProcess {
  private readonly exited: Promise<number | null>;
  private readonly startedAtMs = Date.now();
  output = '';

  constructor(readonly args: readonly string[]) {
    const [command, prefix] = testudoCommand();
    const child = spawn(command, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString('utf8')).slice(-20_000)));
    child.stderr.on('data', (chunk: Buffer) => (this.output = (this.output + chunk.toString('utf8')).slice(-20_000)));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.kill = () => child.kill('SIGKILL');
  }

  readonly kill: () => void;

  /** Waits for the exit, at most until `deadlineMs`; past it the process is killed and counted as hung. */
  async outcome(expectedCode: number, deadlineMs: number): Promise<CommandOutcome> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), Math.max(0, deadlineMs - Date.now()))));
    const code = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    const command = this.args.slice(0, 2).join(' ');
    if (code === 'hung') {
      this.kill();
      await this.exited;
      return { command, exitCode: null, expectedCode, hung: true, ms: Date.now() - this.startedAtMs };
    }
    return { command, exitCode: code, expectedCode, hung: false, ms: Date.now() - this.startedAtMs };
  }
}

/** Attempts beyond one per task (the drill's tasks never fail, so each is a run again). */
export function rerunsOf(run: RunView): number {
  return run.tasks.reduce((n, t) => n + Math.max(0, t.attempts.length - 1), 0);
}

class RoundRunner {
  constructor(
    private readonly cluster: LocalCluster,
    private readonly client: TestudoClient,
    private readonly options: RunDrillOptions,
    private readonly specPath: string,
    private readonly dataDir: string,
  ) {}

  async round(mode: RunDrillMode | 'baseline', round: number, log: (line: string) => void): Promise<RunRound> {
    await this.settle();
    const runId = `drill-${mode}-${round}-${randomUUID().slice(0, 8)}`;
    const endpoints = this.cluster.endpoints().join(',');
    const timeout = String(this.options.clientTimeoutMs);
    const run = new CliProcess(['run', '-f', this.specPath, '--run-id', runId, '--coordinators', endpoints, '--wait', timeout, '--no-progress', '--report-dir', join(this.dataDir, 'reports', runId)]);
    const commands: Promise<CommandOutcome>[] = [];
    let fault: FaultTimes | null = null;
    try {
      if (mode !== 'baseline') {
        await this.waitDone(runId, Math.ceil(this.options.tasks * this.options.killAtFraction));
        fault = await this.inject(mode, endpoints, commands);
      }
      const view = await this.waitEnded(runId);
      commands.unshift(run.outcome(0, Date.now() + commandHangMs));
      const outcomes = await Promise.all(commands);
      const result = this.record(mode, round, view, fault, outcomes);
      log(`${mode} round ${round}: run ${result.state} in ${result.runDurationMs} ms; elected ${result.electedMs ?? '-'} ms, dispatching ${result.dispatchResumedMs ?? '-'} ms, workers back ${result.workersBackMs ?? '-'} ms after the kill; reruns ${result.reruns}; commands ${outcomes.map((o) => `${o.command}=${o.hung ? 'hung' : o.exitCode}`).join(' ')}`);
      return result;
    } finally {
      run.kill();
      if (fault !== null && this.cluster.member(fault.killed).child === null) await this.cluster.restart(fault.killed);
    }
  }

  /** Kills the leader (restart: starts it again at once) and times the recovery. */
  private async inject(mode: RunDrillMode, endpoints: string, commands: Promise<CommandOutcome>[]): Promise<FaultTimes> {
    const before = await this.workerSessions();
    const killed = (await this.client.clusterStatus()).leaderId;
    const killedAtMs = Date.now();
    await this.cluster.kill(killed, 'SIGKILL');
    const list = new CliProcess(['runs', 'list', '--json', '--coordinators', endpoints, '--wait', String(this.options.clientTimeoutMs)]);
    commands.push(list.outcome(0, Date.now() + this.options.clientTimeoutMs + commandHangMs));
    if (mode === 'restart') await this.cluster.restart(killed);
    const elected = await this.newLeader(killed);
    const polledAtMs = Date.now();
    const backAtMs = await this.workersBack(before, elected);
    const electedAtMs = (await becameLeaderAtMs(this.cluster, elected, killedAtMs)) ?? polledAtMs;
    return { killed, killedAtMs, electedAtMs, backAtMs };
  }

  private record(mode: RunDrillMode | 'baseline', round: number, view: RunView, fault: FaultTimes | null, commands: CommandOutcome[]): RunRound {
    let dispatchResumedMs: number | null = null;
    if (fault !== null) {
      const after = view.tasks.flatMap((t) => t.attempts.map((a) => a.assignedAtMs)).filter((at) => at > fault.killedAtMs);
      dispatchResumedMs = after.length === 0 ? null : Math.min(...after) - fault.killedAtMs;
    }
    return {
      mode,
      round,
      runId: view.runId,
      state: view.state,
      runDurationMs: view.finishedAtMs - view.submittedAtMs,
      electedMs: fault === null ? null : fault.electedAtMs - fault.killedAtMs,
      dispatchResumedMs,
      workersBackMs: fault === null ? null : fault.backAtMs - fault.killedAtMs,
      workersBackAfterElectionMs: fault === null ? null : Math.max(0, fault.backAtMs - fault.electedAtMs),
      reruns: rerunsOf(view),
      commands,
    };
  }

  /** Every coordinator up and caught up, every worker in session: the round starts from a healthy cluster. */
  private async settle(): Promise<void> {
    const endpoints = [...this.cluster.members.values()].map((m) => m.grpcAddress);
    await waitForLeader(endpoints, roundWaitMaxMs);
    await waitCaughtUp(endpoints, roundWaitMaxMs);
    await poll('every worker in session', async () => {
      const workers = await this.client.listWorkers();
      return workers.length === this.options.workers && workers.every((w) => w.connected && w.state === 'active');
    });
  }

  private async waitDone(runId: string, done: number): Promise<void> {
    await poll(`${done} tasks of ${runId} done`, async () => {
      const summary = (await this.client.listRuns({ stale: true })).find((r) => r.runId === runId);
      if (summary === undefined) return false;
      const c = summary.counts;
      return c.passed + c.failed + c.failedInfra + c.cancelled >= done || summary.state !== 'running';
    });
  }

  private async waitEnded(runId: string): Promise<RunView> {
    let view: RunView | undefined;
    await poll(`run ${runId} to end`, async () => {
      const summary = (await this.client.listRuns()).find((r) => r.runId === runId);
      if (summary === undefined || summary.state === 'running') return false;
      view = await this.client.getRun(runId);
      return true;
    });
    return view!;
  }

  private async newLeader(killed: string): Promise<string> {
    let leader = '';
    await poll('a new leader', async () => {
      const status = await this.client.clusterStatus();
      leader = status.leaderId;
      return leader !== '' && leader !== killed;
    });
    return leader;
  }

  /** Each worker's sessions-opened count, from its /status. */
  private async workerSessions(): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const w of this.cluster.workers.values()) counts.set(w.id, (await workerStatus(w.httpAddress))?.sessions ?? 0);
    return counts;
  }

  /** When every worker reports a new session with `leader` (its /status). */
  private async workersBack(before: Map<string, number>, leader: string): Promise<number> {
    await poll('every worker back in session', async () => {
      for (const w of this.cluster.workers.values()) {
        const status = await workerStatus(w.httpAddress);
        if (status === null || !status.connected || status.leaderId !== leader || status.sessions <= (before.get(w.id) ?? 0)) return false;
      }
      return true;
    });
    return Date.now();
  }
}

interface FaultTimes {
  readonly killed: string;
  readonly killedAtMs: number;
  readonly electedAtMs: number;
  readonly backAtMs: number;
}

/**
 * When `leader` logged that it became leader after `sinceMs` (its
 * `raft-state` line): the election's own time, not when a probe first saw it.
 */
async function becameLeaderAtMs(cluster: LocalCluster, leader: string, sinceMs: number): Promise<number | null> {
  let text = '';
  try {
    text = await readFile(cluster.member(leader).logPath, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"raft-state"') || !line.includes('"role":"leader"')) continue;
    let atMs = Number.NaN;
    try {
      atMs = Date.parse((JSON.parse(line) as { time: string }).time);
    } catch {
      continue;
    }
    if (atMs >= sinceMs) return atMs;
  }
  return null;
}

async function workerStatus(httpAddress: string | null): Promise<{ connected: boolean; leaderId: string; sessions: number } | null> {
  if (httpAddress === null) return null;
  try {
    const response = await fetch(`http://${httpAddress}/status`, { signal: AbortSignal.timeout(1000) });
    return (await response.json()) as { connected: boolean; leaderId: string; sessions: number };
  } catch {
    return null;
  }
}

/** Polls `probe` every `pollMs` until it holds; errors count as "not yet"; bounded by `roundWaitMaxMs`. */
async function poll(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadlineMs = Date.now() + roundWaitMaxMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadlineMs) throw new Error(`drill: no ${what} within ${roundWaitMaxMs} ms${lastError === null ? '' : `: ${String(lastError)}`}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

function median(values: readonly number[]): number {
  return round(quantile([...values].sort((a, b) => a - b), 0.5));
}

function summarize(options: RunDrillOptions, rounds: readonly RunRound[]): RunDrillResult {
  const baseline = rounds.filter((r) => r.mode === 'baseline').map((r) => r.runDurationMs);
  const baselineMedian = median(baseline);
  const bad = (r: RunRound): { hangs: number; wrong: number } => ({
    hangs: r.commands.filter((c) => c.hung).length,
    wrong: r.commands.filter((c) => !c.hung && c.exitCode !== c.expectedCode).length,
  });
  const modes: Record<string, ModeSummary> = {};
  for (const mode of options.modes) {
    const of = rounds.filter((r) => r.mode === mode);
    const values = (pick: (r: RunRound) => number | null): number[] => of.map(pick).filter((v): v is number => v !== null);
    modes[mode] = {
      rounds: of.length,
      medianElectedMs: median(values((r) => r.electedMs)),
      medianDispatchResumedMs: median(values((r) => r.dispatchResumedMs)),
      medianWorkersBackMs: median(values((r) => r.workersBackMs)),
      medianWorkersBackAfterElectionMs: median(values((r) => r.workersBackAfterElectionMs)),
      maxWorkersBackAfterElectionMs: Math.max(0, ...values((r) => r.workersBackAfterElectionMs)),
      medianRunDurationMs: median(values((r) => r.runDurationMs)),
      medianSlowdownMs: round(median(values((r) => r.runDurationMs)) - baselineMedian),
      reruns: of.reduce((n, r) => n + r.reruns, 0),
      hangs: of.reduce((n, r) => n + bad(r).hangs, 0),
      wrongExitCodes: of.reduce((n, r) => n + bad(r).wrong, 0),
    };
  }
  const reruns = rounds.reduce((n, r) => n + r.reruns, 0);
  const hangs = rounds.reduce((n, r) => n + bad(r).hangs, 0);
  const wrongExitCodes = rounds.reduce((n, r) => n + bad(r).wrong, 0);
  return {
    workload: 'run',
    tasks: options.tasks,
    taskMs: options.taskMs,
    workers: options.workers,
    slots: options.slots,
    baseline: { rounds: baseline.length, runDurationMs: baseline, medianRunDurationMs: baselineMedian },
    modes,
    rounds: [...rounds],
    reruns,
    hangs,
    wrongExitCodes,
    ok: reruns === 0 && hangs === 0 && wrongExitCodes === 0 && rounds.every((r) => r.state === 'passed'),
  };
}
