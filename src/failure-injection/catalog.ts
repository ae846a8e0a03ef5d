/**
 * The fault catalog: every fault the chaos module can inject, its scopes and
 * its parameters at each intensity. Pure data and pure helpers; the injector
 * (injector.ts) applies and heals them on a running cluster. docs/chaos.md
 * lists the same table for users — keep the two in step.
 */

export const INTENSITIES = ['mild', 'moderate', 'severe'] as const;
export type Intensity = (typeof INTENSITIES)[number];

/** Which part of the cluster a fault targets. */
export const SCOPES = ['node', 'leader', 'follower', 'minority', 'majority', 'all-nodes', 'worker', 'all-workers'] as const;
export type Scope = (typeof SCOPES)[number];

export const FAULT_TYPES = [
  // process (coordinators)
  'kill',
  'pause',
  'restart',
  // network, through the fault proxy
  'isolate',
  'split',
  'ring',
  'latency',
  'bandwidth',
  'reset',
  'blackhole',
  'slice',
  // worker
  'worker-crash',
  'worker-hang',
  'worker-slow',
  'worker-flaky',
  // disk
  'slow-fsync',
] as const;
export type FaultType = (typeof FAULT_TYPES)[number];

export type FaultFamily = 'process' | 'network' | 'worker' | 'disk';

/**
 * Parameters of one fault at one intensity. `durationMs` is how long the fault
 * lasts before it is healed (for kill and worker-crash: how long the process
 * stays down before it is restarted). The other fields apply to some types.
 */
export interface FaultParams {
  readonly durationMs: number;
  /** latency: added delay per chunk (ms) and its ± jitter (ms). */
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  /** bandwidth: KB/s per link direction. */
  readonly rateKBps?: number;
  /** reset: ms after a connection's first data before the TCP reset, and the share of connections hit. */
  readonly resetAfterMs?: number;
  readonly toxicity?: number;
  /** slice: average piece size and its variation (bytes), delay between pieces (µs). */
  readonly averageSize?: number;
  readonly sizeVariation?: number;
  readonly sliceDelayUs?: number;
  /** worker-slow: share of CPU time the worker's tasks get (0..1]. */
  readonly cpuShare?: number;
  /** worker-flaky: per-attempt rates of a failed spawn, a crash and a timeout. */
  readonly spawnFailRate?: number;
  readonly crashRate?: number;
  readonly timeoutRate?: number;
  /** slow-fsync: delay added to each synced write (ms). */
  readonly fsyncDelayMs?: number;
}

export interface FaultKind {
  readonly type: FaultType;
  readonly family: FaultFamily;
  readonly description: string;
  /** Scopes the fault accepts; the first is the default. */
  readonly scopes: readonly Scope[];
  readonly params: Readonly<Record<Intensity, FaultParams>>;
}

const coordinatorScopes: readonly Scope[] = ['node', 'leader', 'follower', 'minority', 'majority', 'all-nodes'];
const linkScopes: readonly Scope[] = ['node', 'leader', 'follower', 'minority', 'majority', 'all-nodes', 'worker', 'all-workers'];
const workerScopes: readonly Scope[] = ['worker', 'all-workers'];

function durations(mild: number, moderate: number, severe: number, extra: Partial<Record<Intensity, Omit<FaultParams, 'durationMs'>>> = {}): Record<Intensity, FaultParams> {
  return {
    mild: { durationMs: mild, ...extra.mild },
    moderate: { durationMs: moderate, ...extra.moderate },
    severe: { durationMs: severe, ...extra.severe },
  };
}

export const FAULT_CATALOG: Readonly<Record<FaultType, FaultKind>> = {
  kill: {
    type: 'kill',
    family: 'process',
    description: 'SIGKILL the coordinator process(es), restart them from their data directory after durationMs',
    scopes: ['follower', 'leader', 'node', 'minority'],
    params: durations(1_000, 5_000, 15_000),
  },
  pause: {
    type: 'pause',
    family: 'process',
    description: 'SIGSTOP the coordinator process(es), SIGCONT after durationMs (mild stays under the election timeout)',
    scopes: ['follower', 'leader', 'node', 'minority'],
    params: durations(500, 3_000, 10_000),
  },
  restart: {
    type: 'restart',
    family: 'process',
    description: 'graceful restart: SIGTERM (the leader hands over first), start again after durationMs',
    scopes: ['follower', 'leader', 'node', 'minority'],
    params: durations(0, 2_000, 8_000),
  },
  isolate: {
    type: 'isolate',
    family: 'network',
    description: 'disable every proxied link into and out of the target (peers, workers, client): a partition with the target alone',
    scopes: ['node', 'leader', 'follower', 'minority'],
    params: durations(2_000, 6_000, 15_000),
  },
  split: {
    type: 'split',
    family: 'network',
    description: 'cut the coordinators into two random halves (workers and the client stay with a random half each); no link crosses',
    scopes: ['all-nodes'],
    params: durations(2_000, 6_000, 15_000),
  },
  ring: {
    type: 'ring',
    family: 'network',
    description: 'majorities ring: every coordinator still sees a majority, but no two see the same one (a bridge for 3 nodes)',
    scopes: ['all-nodes'],
    params: durations(2_000, 6_000, 15_000),
  },
  latency: {
    type: 'latency',
    family: 'network',
    description: 'add latency ± jitter to every chunk on the target links, both directions',
    scopes: linkScopes,
    params: durations(3_000, 8_000, 15_000, {
      mild: { latencyMs: 50, jitterMs: 10 },
      moderate: { latencyMs: 250, jitterMs: 50 },
      severe: { latencyMs: 1_000, jitterMs: 250 },
    }),
  },
  bandwidth: {
    type: 'bandwidth',
    family: 'network',
    description: 'throttle the target links to rateKBps per direction',
    scopes: linkScopes,
    params: durations(3_000, 8_000, 15_000, { mild: { rateKBps: 1_000 }, moderate: { rateKBps: 100 }, severe: { rateKBps: 10 } }),
  },
  reset: {
    type: 'reset',
    family: 'network',
    description: 'reset (TCP RST) a share of the connections on the target links resetAfterMs after their first data',
    scopes: linkScopes,
    params: durations(3_000, 8_000, 15_000, {
      mild: { resetAfterMs: 2_000, toxicity: 0.3 },
      moderate: { resetAfterMs: 500, toxicity: 0.6 },
      severe: { resetAfterMs: 0, toxicity: 1 },
    }),
  },
  blackhole: {
    type: 'blackhole',
    family: 'network',
    description: 'the target links pass no data (connections stay open and silent); healing closes them',
    scopes: linkScopes,
    params: durations(2_000, 6_000, 15_000),
  },
  slice: {
    type: 'slice',
    family: 'network',
    description: 'cut the data on the target links into small pieces with a delay between them',
    scopes: linkScopes,
    params: durations(3_000, 8_000, 15_000, {
      mild: { averageSize: 256, sizeVariation: 64, sliceDelayUs: 100 },
      moderate: { averageSize: 64, sizeVariation: 32, sliceDelayUs: 1_000 },
      severe: { averageSize: 8, sizeVariation: 4, sliceDelayUs: 5_000 },
    }),
  },
  'worker-crash': {
    type: 'worker-crash',
    family: 'worker',
    description: 'SIGKILL the worker (and its running tests), restart it after durationMs with the same work directory',
    scopes: workerScopes,
    params: durations(1_000, 5_000, 15_000),
  },
  'worker-hang': {
    type: 'worker-hang',
    family: 'worker',
    description: 'SIGSTOP the worker, SIGCONT after durationMs (moderate and severe outlast the worker TTL)',
    scopes: workerScopes,
    params: durations(1_000, 8_000, 20_000),
  },
  'worker-slow': {
    type: 'worker-slow',
    family: 'worker',
    description: "throttle the CPU of the worker's test commands to cpuShare (SIGSTOP/SIGCONT duty cycle on their process group)",
    scopes: workerScopes,
    params: durations(5_000, 10_000, 20_000, { mild: { cpuShare: 0.75 }, moderate: { cpuShare: 0.4 }, severe: { cpuShare: 0.1 } }),
  },
  'worker-flaky': {
    type: 'worker-flaky',
    family: 'worker',
    description: "the worker's executor fails spawns, crashes tests or times them out at the given rates",
    scopes: workerScopes,
    params: durations(5_000, 10_000, 20_000, {
      mild: { spawnFailRate: 0.05, crashRate: 0.05, timeoutRate: 0 },
      moderate: { spawnFailRate: 0.1, crashRate: 0.15, timeoutRate: 0.05 },
      severe: { spawnFailRate: 0.2, crashRate: 0.3, timeoutRate: 0.1 },
    }),
  },
  'slow-fsync': {
    type: 'slow-fsync',
    family: 'disk',
    description: "delay each synced LevelDB write of the coordinator(s) by fsyncDelayMs (a storage hook, on only with --chaos-hooks)",
    scopes: coordinatorScopes,
    params: durations(3_000, 8_000, 15_000, { mild: { fsyncDelayMs: 5 }, moderate: { fsyncDelayMs: 50 }, severe: { fsyncDelayMs: 250 } }),
  },
};

export function isFaultType(v: unknown): v is FaultType {
  return typeof v === 'string' && (FAULT_TYPES as readonly string[]).includes(v);
}

export function isIntensity(v: unknown): v is Intensity {
  return typeof v === 'string' && (INTENSITIES as readonly string[]).includes(v);
}

export function isScope(v: unknown): v is Scope {
  return typeof v === 'string' && (SCOPES as readonly string[]).includes(v);
}

/** Intensity order: mild < moderate < severe. */
export function intensityRank(i: Intensity): number {
  return INTENSITIES.indexOf(i);
}

/** A fault as scheduled: what, where, how hard, when (ms after the workload starts). */
export interface FaultEvent {
  readonly atMs: number;
  readonly type: FaultType;
  readonly scope: Scope;
  readonly intensity: Intensity;
  /** Overrides of the intensity's parameters. */
  readonly params?: Partial<FaultParams>;
  /** Scope `worker` only: this worker (1-based, in start order) instead of a random one, so that repeated events hit one bad worker. */
  readonly worker?: number;
}

/** The parameters a scheduled fault runs with: the intensity's, then the event's overrides. */
export function faultParams(event: Pick<FaultEvent, 'type' | 'intensity' | 'params'>): FaultParams {
  return { ...FAULT_CATALOG[event.type].params[event.intensity], ...event.params };
}

/**
 * Adaptive intensity (recovery/chaos-hook.ts): the most a worker's breaker
 * state allows, or null for none. A fault aimed at a worker is lowered to that
 * cap, or skipped.
 */
export function capIntensity(wanted: Intensity, cap: Intensity | null): Intensity | null {
  if (cap === null) return null;
  return intensityRank(wanted) <= intensityRank(cap) ? wanted : cap;
}
