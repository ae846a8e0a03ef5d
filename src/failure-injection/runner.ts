/**
 * Runs one chaos scenario end to end: a local cluster wired through fault
 * proxies, the workload submitted through the client's proxied link, the
 * fault schedule injected and healed, then everything healed and the safety
 * checks and recovery figures computed (analysis.ts).
 */
import { readFile } from 'node:fs/promises';
import type { TestudoClient } from '../client/index.js';
import type { RunSubmission, RunView } from '../model/index.js';
import type { FaultEvent } from './catalog.js';
import { expandSpec, loadSpec, parseSpecText } from '../spec/index.js';
import {
  baselineThroughput,
  divergentReplicas,
  duplicateResults,
  groupFaults,
  isDetection,
  leaderTerms,
  lostTasks,
  parseLog,
  rolling,
  splitBrainTerms,
  throughputBackMs,
  throughputSeries,
  wastedAttempts,
  spawnRetriesInPlace,
  type DigestSample,
  type Finding,
  type LogEvent,
} from './analysis.js';
import { ChaosCluster } from './chaos-cluster.js';
import { FaultInjector, type InjectedFault } from './injector.js';
import { fetchStatus, isReady, setChaosHooks } from './observer.js';
import type { ChaosChecks, ChaosRunResult, FaultOutcome } from './results.js';
import { ProcessSampler, StatusPoller, WriteProber } from './samplers.js';
import { faultSchedule, syntheticRunSpec, type Scenario } from './scenario/index.js';
import { createPrng } from '../common/rand.js';

export interface ChaosRunOptions {
  readonly scenario: Scenario;
  readonly seed: number;
  /** 'breaker': breakers and adaptive recovery on (the default); 'no-breaker': off (adaptiveRecovery=false). */
  readonly mode?: 'breaker' | 'no-breaker';
  /** Every node and worker gets a directory under it. */
  readonly dataDir: string;
  /** Use this Toxiproxy instead of the built-in one. */
  readonly toxiproxyUrl?: string;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** Extra environment for the coordinators (tests plant bugs this way). */
  readonly coordinatorEnv?: Readonly<Record<string, string>>;
}

/**
 * Cluster timing for chaos runs: a lost worker is noticed within seconds, not
 * the production default; elections after 500–1000 ms, so that mild and
 * moderate latency (round trips up to ~600 ms) do not unseat a leader.
 */
export const chaosTiming = { tickMs: 20, electionTicks: 25, workerTtlMs: 3_000, workerGraceMs: 3_000 } as const;

/** How long after a fault heals a sign of it (a leader change, a lost worker…) is still put down to it. */
export const detectionSlackMs = 2_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** The workload as a run submission, and how many tasks it has. */
export async function workloadSubmission(scenario: Scenario, seed: number): Promise<RunSubmission> {
  if (scenario.workload.kind === 'spec') return expandSpec(await loadSpec(scenario.workload.specPath));
  const spec = syntheticRunSpec(scenario.workload.synthetic, seed, { name: `chaos-${scenario.name}` });
  return expandSpec(parseSpecText(spec.text, { file: `${scenario.name}.synthetic.yaml`, sourceDir: scenario.sourceDir }));
}

interface Timeline {
  readonly startMs: number;
  readonly faults: Array<{ fault: InjectedFault; injectedAtMs: number; healedAtMs: number; termAtInjection: number }>;
}

export async function runChaos(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const { scenario, seed } = options;
  const mode = options.mode ?? 'breaker';
  const log = options.log ?? ((): void => undefined);
  const chaos = new ChaosCluster({
    coordinators: scenario.cluster.coordinators,
    workers: scenario.cluster.workers,
    slots: scenario.cluster.slotsPerWorker,
    dataDir: options.dataDir,
    seed,
    ...chaosTiming,
    ...(options.toxiproxyUrl === undefined ? {} : { toxiproxyUrl: options.toxiproxyUrl }),
    ...(options.coordinatorEnv === undefined ? {} : { coordinatorEnv: options.coordinatorEnv }),
  });
  const submission = await workloadSubmission(scenario, seed);
  const schedule = faultSchedule(scenario, seed);
  log(`${scenario.name}: ${submission.tasks.length} tasks, ${schedule.length} faults, mode ${mode}, seed ${seed}`);
  const phaseMs = phaseClock();
  try {
    await chaos.start();
  } catch (error) {
    // A member that could not start leaves the others running: stop them
    // before the data directory goes, or they outlive the pass.
    await chaos.stop({ discard: true }).catch(() => undefined);
    throw error;
  }
  log(`cluster started in ${phaseMs()} ms`);
  const direct = chaos.directClient({ totalTimeoutMs: 30_000 });
  const routed = chaos.client({ callTimeoutMs: 1_000, totalTimeoutMs: 60_000 });
  const probeClient = chaos.client({ callTimeoutMs: 1_000, totalTimeoutMs: 2_000 });
  const httpOf = (): Map<string, string> => new Map(chaos.coordinatorIds().map((id) => [id, chaos.cluster.member(id).httpAddress ?? '']));
  try {
    await direct.put('chaos/start', String(seed)); // waits for a leader
    if (mode === 'no-breaker') await direct.breakerConfig({ adaptiveRecovery: false });
    log(`leader and settings in ${phaseMs()} ms`);
    const poller = new StatusPoller(httpOf);
    const sampler = new ProcessSampler(() => clusterPids(chaos));
    const prober = new WriteProber(probeClient);
    const startMs = Date.now();
    const { runId } = await routed.submitRun(submission);
    log(`submitted run ${runId}`);
    const timeline: Timeline = { startMs, faults: [] };
    const injector = new FaultInjector(chaos, createPrng(seed ^ 0x7a0c), { adaptive: scenario.adaptiveIntensity, log });
    const deadlineMs = startMs + scenario.checks.timeoutMs;
    await injectSchedule(schedule, injector, timeline, poller, deadlineMs, log);
    const healedAllMs = Date.now();
    await healEverything(chaos);
    const readyMs = await waitReady(chaos, probeClient, scenario.checks.readyWithinMs);
    log(readyMs === null ? 'not ready within the bound' : `ready ${readyMs} ms after healing`);
    const run = await waitRunDone(direct, runId, deadlineMs, log);
    const quarantinedAfterHeal = await quarantinedWorkers(direct, log);
    // The fault records' last writes land before the replicas' digests are compared.
    await injector.recordsWritten();
    await Promise.all([poller.stop(), sampler.stop(), prober.stop()]);
    const digests = await sampleDigests(httpOf(), 10_000);
    const events = await readLogs(chaos);
    log(`run ended, checks read in ${phaseMs()} ms`);
    return summarize({ scenario, seed, mode, submission, run, timeline, events, digests, sampler, prober, readyMs, healedAllMs, quarantinedAfterHeal });
  } finally {
    direct.close();
    routed.close();
    probeClient.close();
    await chaos.stop({ discard: true });
    log(`cluster stopped in ${phaseMs()} ms`);
  }
}

/** Milliseconds since the last call (since its creation the first time): the progress lines' phase times. */
function phaseClock(): () => number {
  let lastMs = Date.now();
  return () => {
    const nowMs = Date.now();
    const tookMs = nowMs - lastMs;
    lastMs = nowMs;
    return tookMs;
  };
}

async function injectSchedule(
  schedule: readonly FaultEvent[],
  injector: FaultInjector,
  timeline: Timeline,
  poller: StatusPoller,
  deadlineMs: number,
  log: (line: string) => void,
): Promise<void> {
  const heals: Promise<void>[] = [];
  for (const event of schedule) {
    const at = timeline.startMs + event.atMs;
    if (at > deadlineMs) break;
    await sleep(at - Date.now());
    const termAtInjection = poller.maxTerm();
    const injectedAtMs = Date.now() - timeline.startMs;
    let fault: InjectedFault;
    try {
      fault = await injector.inject(event);
    } catch (error) {
      log(`could not inject ${event.type}: ${(error as Error).message}`);
      continue;
    }
    const entry = { fault, injectedAtMs, healedAtMs: injectedAtMs, termAtInjection };
    timeline.faults.push(entry);
    heals.push(
      sleep(fault.params.durationMs).then(async () => {
        await fault.heal().catch((error: unknown) => log(`heal of ${event.type} failed: ${(error as Error).message}`));
        entry.healedAtMs = Date.now() - timeline.startMs;
        log(`healed ${event.type}/${fault.intensity}`);
      }),
    );
  }
  await Promise.all(heals);
}

/** After the schedule: the network reset, every process running and unpaused, every chaos hook cleared. */
async function healEverything(chaos: ChaosCluster): Promise<void> {
  await chaos.resetNetwork();
  for (const id of chaos.coordinatorIds()) {
    const m = chaos.cluster.member(id);
    if (m.paused) chaos.cluster.resume(id);
    if (m.child === null) await chaos.cluster.restart(id);
  }
  for (const id of chaos.workerIds) {
    const w = chaos.cluster.workers.get(id);
    if (w?.paused === true) chaos.cluster.resumeWorker(id);
    if (w === undefined || w.child === null) await chaos.startWorker(id);
  }
  const hooks = [...chaos.coordinatorIds().map((id) => chaos.cluster.member(id).httpAddress), ...chaos.workerIds.map((id) => chaos.cluster.workers.get(id)?.httpAddress)];
  for (const address of hooks) if (address) await setChaosHooks(address, null).catch(() => undefined);
}

/** Time until a leader, every member ready and a write committed through the client's link; null past the bound. */
async function waitReady(chaos: ChaosCluster, client: TestudoClient, boundMs: number): Promise<number | null> {
  const start = Date.now();
  while (Date.now() - start <= boundMs) {
    const addresses = chaos.coordinatorIds().map((id) => chaos.cluster.member(id).httpAddress ?? '');
    const ready = await Promise.all(addresses.map((a) => isReady(a)));
    if (ready.every(Boolean)) {
      const ok = await client.put('chaos/ready', String(Date.now())).then(
        () => true,
        () => false,
      );
      if (ok) return Date.now() - start;
    }
    await sleep(100);
  }
  return null;
}

async function waitRunDone(client: TestudoClient, runId: string, deadlineMs: number, log: (line: string) => void): Promise<RunView | null> {
  let last: RunView | null = null;
  while (Date.now() < deadlineMs) {
    try {
      last = await client.getRun(runId);
      if (last.state !== 'running') return last;
    } catch (error) {
      log(`getRun: ${(error as Error).message}`);
    }
    await sleep(500);
  }
  log(`the run did not finish before the scenario's timeout`);
  return last;
}

/** Breaker states that keep a worker out of service: open (waiting) and forced-open (quarantined). */
export const QUARANTINE_STATES: ReadonlySet<string> = new Set(['open', 'forced-open']);

/**
 * Workers whose breaker keeps them out of service (QUARANTINE_STATES), as
 * the leader weighs them now (`service` out). A breaker whose open wait is
 * over still reads `open` until an assignment moves it to half-open, and
 * with the workload ended none comes: such a worker would take probes, so it
 * is not counted. A coordinator older than `service` sends '' (then the
 * state alone decides).
 */
export function countQuarantined(workers: ReadonlyArray<{ readonly breakerState: string; readonly service?: string }>): number {
  return workers.filter((w) => QUARANTINE_STATES.has(w.breakerState) && (w.service === undefined || w.service === '' || w.service === 'out')).length;
}

/**
 * Workers whose breaker still keeps them out of service once every fault has
 * healed and the workload has ended (the "no quarantine left after
 * healing"); null when the cluster could not list its workers.
 */
async function quarantinedWorkers(client: TestudoClient, log: (line: string) => void): Promise<number | null> {
  try {
    return countQuarantined(await client.listWorkers());
  } catch (error) {
    log(`listWorkers: ${(error as Error).message}`);
    return null;
  }
}

/** Samples every replica's (applied index, digest) until all share an index, or the bound passes. */
async function sampleDigests(http: ReadonlyMap<string, string>, boundMs: number): Promise<Map<string, DigestSample[]>> {
  const samples = new Map<string, DigestSample[]>([...http.keys()].map((id) => [id, []]));
  const start = Date.now();
  while (Date.now() - start < boundMs) {
    const answers = await Promise.all([...http].map(async ([id, address]) => [id, await fetchStatus(address, 3_000)] as const));
    for (const [id, s] of answers) if (s !== null) samples.get(id)?.push({ applied: s.appliedToMachine, digest: s.digest });
    // No finding with every replica sampled means they share an applied index and agree there.
    if ([...samples.values()].every((list) => list.length > 0) && divergentReplicas(samples).length === 0) break;
    await sleep(100);
  }
  return samples;
}

async function readLogs(chaos: ChaosCluster): Promise<LogEvent[]> {
  const events: LogEvent[] = [];
  for (const id of chaos.coordinatorIds()) {
    const text = await readFile(chaos.cluster.member(id).logPath, 'utf8').catch(() => '');
    events.push(...parseLog(id, text));
  }
  return events.sort((a, b) => a.timeMs - b.timeMs);
}

function clusterPids(chaos: ChaosCluster): number[] {
  const pids: number[] = [];
  for (const m of chaos.cluster.members.values()) if (m.child?.pid !== undefined) pids.push(m.child.pid);
  for (const w of chaos.cluster.workers.values()) if (w.child?.pid !== undefined) pids.push(w.child.pid);
  return pids;
}

interface SummaryInput {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly mode: 'breaker' | 'no-breaker';
  readonly submission: RunSubmission;
  readonly run: RunView | null;
  readonly timeline: Timeline;
  readonly events: readonly LogEvent[];
  readonly digests: ReadonlyMap<string, readonly DigestSample[]>;
  readonly sampler: ProcessSampler;
  readonly prober: WriteProber;
  readonly readyMs: number | null;
  readonly healedAllMs: number;
  readonly quarantinedAfterHeal: number | null;
}

function summarize(input: SummaryInput): ChaosRunResult {
  const { run, timeline } = input;
  const tasks = run?.tasks ?? [];
  const finished = tasks.filter((t) => t.finishedAtMs > 0).map((t) => t.finishedAtMs - timeline.startMs);
  const lastFinishMs = Math.max(0, ...finished);
  const series = throughputSeries(finished, Math.max(1_000, lastFinishMs));
  const smoothed = rolling(series);
  const baseline = baselineThroughput(smoothed, timeline.faults, lastFinishMs);
  const faults = timeline.faults.map((f) => outcome(f, input, smoothed, baseline, lastFinishMs));
  const findings: Finding[] = [
    ...lostTasks(run, input.submission.tasks.length),
    ...duplicateResults(run),
    ...divergentReplicas(input.digests),
    ...splitBrainTerms(input.events),
  ];
  findings.push(...steadyState(input.scenario, input.submission.tasks.length, tasks.filter((t) => t.state === 'passed').length, faults));
  const count = (check: Finding['check']): number => findings.filter((f) => f.check === check).length;
  const checks: ChaosChecks = {
    lostTasks: count('lost'),
    duplicateResults: count('duplicate'),
    divergentReplicas: count('divergent'),
    splitBrainTerms: count('split-brain'),
    ready: input.readyMs !== null,
    readyMs: input.readyMs,
    steadyStateViolations: count('steady-state'),
    findings: findings.map((f) => `${f.check}: ${f.text}`),
  };
  const passed = tasks.filter((t) => t.state === 'passed').length;
  return {
    scenario: input.scenario.name,
    seed: input.seed,
    mode: input.mode,
    tasks: input.submission.tasks.length,
    passed,
    failed: tasks.filter((t) => t.state === 'failed').length,
    failedInfra: tasks.filter((t) => t.state === 'failed-infra').length,
    successRate: input.submission.tasks.length === 0 ? 0 : passed / input.submission.tasks.length,
    // Attempts after a task's first, hedges aside (a hedge is a copy beside a straggler, not a retry; a losing one counts as wasted).
    infraRetries: tasks.reduce((n, t) => n + Math.max(0, t.attempts.filter((a) => a.hedge !== true).length - 1), 0),
    wastedAttempts: wastedAttempts(run),
    spawnRetries: spawnRetriesInPlace(run),
    makespanMs: lastFinishMs,
    quarantinedAfterHeal: input.quarantinedAfterHeal,
    leaderTerms: leaderTerms(input.events),
    baselineTasksPerSec: baseline,
    cpuSeconds: input.sampler.cpuSeconds,
    peakRssBytes: input.sampler.peakRssBytes,
    faults,
    byFault: groupFaults(faults),
    throughput: series,
    checks,
  };
}

function outcome(
  f: Timeline['faults'][number],
  input: SummaryInput,
  smoothed: ReturnType<typeof rolling>,
  baseline: number,
  lastFinishMs: number,
): FaultOutcome {
  const start = input.timeline.startMs;
  const at = start + f.injectedAtMs;
  // A sign counts for this fault only while it lasts and shortly after (detectionSlackMs).
  const until = start + f.healedAtMs + detectionSlackMs;
  const detection = input.events.find((e) => e.timeMs >= at && e.timeMs <= until && isDetection(e));
  const infra = (input.run?.tasks ?? [])
    .flatMap((t) => t.attempts)
    .map((a) => (a.result?.outcome === 'infra-error' ? a.result.finishedAtMs : Number.POSITIVE_INFINITY))
    .filter((t) => t >= at && t <= until)
    .reduce((min, t) => Math.min(min, t), Number.POSITIVE_INFINITY);
  const detectAt = Math.min(detection?.timeMs ?? Number.POSITIVE_INFINITY, infra);
  const leader = input.events.find((e) => e.timeMs >= at && e.timeMs <= until && e.event === 'raft-state' && e.role === 'leader' && (e.term ?? 0) > f.termAtInjection);
  const write = input.prober.firstAfter(at);
  return {
    type: f.fault.event.type,
    intensity: f.fault.intensity,
    scope: f.fault.event.scope,
    targets: f.fault.targets,
    ...(f.fault.adapted ? { adapted: f.fault.adapted } : {}),
    injectedAtMs: f.injectedAtMs,
    healedAtMs: f.healedAtMs,
    detectMs: Number.isFinite(detectAt) ? detectAt - at : null,
    newLeaderMs: leader === undefined ? null : leader.timeMs - at,
    firstWriteMs: write === null ? null : write - at,
    throughputBackMs: throughputBackMs(smoothed, baseline, f, lastFinishMs),
  };
}


/** The scenario's steady-state hypotheses that the run broke. */
export function steadyState(scenario: Pick<Scenario, 'checks'>, tasks: number, passed: number, faults: readonly FaultOutcome[]): Finding[] {
  const out: Finding[] = [];
  const { minSuccessRate, recoverWithinMs } = scenario.checks;
  const rate = tasks === 0 ? 1 : passed / tasks;
  if (minSuccessRate !== undefined && rate < minSuccessRate) {
    out.push({ check: 'steady-state', text: `success rate ${(rate * 100).toFixed(1)}% is below minSuccessRate ${(minSuccessRate * 100).toFixed(1)}%` });
  }
  if (recoverWithinMs !== undefined) {
    for (const f of faults) {
      if (f.throughputBackMs === null || f.throughputBackMs > recoverWithinMs) {
        const took = f.throughputBackMs === null ? 'never came back' : `came back after ${f.throughputBackMs} ms`;
        out.push({ check: 'steady-state', text: `${f.type}/${f.intensity} at ${f.injectedAtMs} ms: throughput ${took}, recoverWithin is ${recoverWithinMs} ms` });
      }
    }
  }
  return out;
}
