/**
 * Applies a scheduled fault to a running chaos cluster and heals it. Network
 * faults go only through toxiproxy-node-client (proxies disabled, toxics
 * added and removed); process faults are real signals; worker and disk
 * faults use the processes' chaos hooks over HTTP.
 */
import type { ICreateToxicBody } from 'toxiproxy-node-client';
import { maxFaultIntensity } from '../coordinator/recovery/chaos-hook.js';
import type { BreakerState } from '../coordinator/recovery/breaker.js';
import { capIntensity, FAULT_CATALOG, intensityRank, faultParams, type FaultEvent, type FaultParams, type Intensity } from './catalog.js';
import type { ChaosCluster, Link } from './chaos-cluster.js';
import { FaultRecorder, faultRecordWriteTimeoutMs } from './fault-recorder.js';
import { fetchStatus, leaderOf, setChaosHooks } from './observer.js';
import type { UniformRandom } from '../common/rand.js';

/** A fault in place: what it hit and how to undo it. */
export interface InjectedFault {
  readonly event: FaultEvent;
  /** The intensity applied (lower than asked when adaptive intensity capped it). */
  readonly intensity: Intensity;
  readonly params: FaultParams;
  readonly targets: readonly string[];
  readonly adapted?: { readonly wanted: Intensity; readonly reason: string };
  /** Undoes the fault; safe to call twice. */
  heal(): Promise<void>;
}

export interface InjectorOptions {
  /** Cap faults aimed at workers by their breaker state. */
  readonly adaptive: boolean;
  /** Where the injector says what it does. */
  readonly log?: (line: string) => void;
  /**
   * Record each fault (start, heal) in the cluster's replicated state, where
   * every coordinator's dashboard shows it (src/failure-injection/fault-recorder.ts).
   * Default true.
   */
  readonly record?: boolean;
  /** Who the records say injected the faults. Default `testudo chaos (pid <pid>)`. */
  readonly recordSource?: string;
}

const noop = async (): Promise<void> => undefined;

export class FaultInjector {
  private readonly recorder: FaultRecorder | null;

  constructor(
    private readonly chaos: ChaosCluster,
    private readonly rng: UniformRandom,
    private readonly options: InjectorOptions,
  ) {
    this.recorder =
      options.record === false
        ? null
        : new FaultRecorder(
            () => {
              // The harness's own link: a network fault must not keep its record from the cluster.
              const client = chaos.directClient({ totalTimeoutMs: faultRecordWriteTimeoutMs });
              return { store: client, close: () => client.close() };
            },
            options.recordSource ?? `testudo chaos (pid ${process.pid})`,
            (line) => options.log?.(line),
          );
  }

  /** Resolves once every fault record asked for so far was written to the cluster (or given up). */
  recordsWritten(): Promise<void> {
    return this.recorder?.written() ?? Promise.resolve();
  }

  async inject(event: FaultEvent): Promise<InjectedFault> {
    const kind = FAULT_CATALOG[event.type];
    if (kind.family === 'worker' || event.scope === 'worker' || event.scope === 'all-workers') return this.injectAtWorkers(event);
    const targets = await this.coordinatorTargets(event);
    const params = faultParams(event);
    const heal = await this.applyRecorded(event, params, targets);
    this.options.log?.(`inject ${event.type}/${event.intensity} on ${targets.join(',') || 'nothing'}`);
    return { event, intensity: event.intensity, params, targets, heal };
  }

  /** Applies the fault and records it (start now, heal once its heal has run); a fault on nothing is not recorded. */
  private async applyRecorded(event: FaultEvent, params: FaultParams, targets: readonly string[], adapted?: InjectedFault['adapted']): Promise<() => Promise<void>> {
    const record = targets.length === 0 ? undefined : this.recorder?.started({ event, intensity: event.intensity, params, targets, ...(adapted ? { wanted: adapted.wanted, adaptedReason: adapted.reason } : {}) });
    const recordHeal = (): void => {
      if (record !== undefined) this.recorder!.healed(record);
    };
    let heal: () => Promise<void>;
    try {
      heal = await this.apply(event, params, targets);
    } catch (error) {
      recordHeal();
      throw error;
    }
    return once(async () => {
      try {
        await heal();
      } finally {
        recordHeal();
      }
    });
  }

  /** Worker-scoped faults, each target capped by its breaker when adaptive intensity is on. */
  private async injectAtWorkers(event: FaultEvent): Promise<InjectedFault> {
    const running = this.chaos.workerIds.filter((id) => this.chaos.cluster.workers.get(id)?.child != null);
    const chosen = event.scope === 'all-workers' ? running : event.worker !== undefined ? this.pinnedWorker(event.worker, running) : running.length === 0 ? [] : [pick(running, this.rng)];
    let intensity = event.intensity;
    let adapted: InjectedFault['adapted'];
    let targets = chosen;
    if (this.options.adaptive && chosen.length > 0) {
      const states = await this.breakerStates();
      const capped = chosen.map((id) => ({ id, cap: capIntensity(event.intensity, maxFaultIntensity(states.get(id) ?? 'closed')) }));
      targets = capped.filter((c) => c.cap !== null).map((c) => c.id);
      const lowest = capped.reduce<Intensity | null>((lo, c) => (c.cap === null ? lo : lo === null || intensityRank(c.cap) < intensityRank(lo) ? c.cap : lo), null);
      if (targets.length < chosen.length || (lowest !== null && lowest !== event.intensity)) {
        const why = capped.map((c) => `${c.id}: breaker ${states.get(c.id) ?? 'closed'} → ${c.cap ?? 'none'}`).join('; ');
        adapted = { wanted: event.intensity, reason: why };
        intensity = lowest ?? event.intensity;
      }
    }
    const lowered: FaultEvent = { ...event, intensity };
    const params = faultParams(lowered);
    const heal = targets.length === 0 ? noop : await this.applyRecorded(lowered, params, targets, adapted);
    this.options.log?.(`inject ${event.type}/${intensity} on ${targets.join(',') || 'nothing'}${adapted ? ` (adapted: ${adapted.reason})` : ''}`);
    return { event, intensity, params, targets, heal, ...(adapted ? { adapted } : {}) };
  }

  /** The worker an event pins (1-based, in start order) when it is running; none when it is down (a crash loop's next crash waits for no restart). */
  private pinnedWorker(n: number, running: readonly string[]): string[] {
    const id = this.chaos.workerIds[n - 1];
    return id !== undefined && running.includes(id) ? [id] : [];
  }

  private async breakerStates(): Promise<Map<string, BreakerState>> {
    const client = this.chaos.directClient({ totalTimeoutMs: 5_000 });
    try {
      const workers = await client.listWorkers();
      return new Map(workers.map((w) => [w.name, w.breakerState as BreakerState]));
    } catch {
      return new Map();
    } finally {
      client.close();
    }
  }

  /** Resolves the scope to coordinator ids, reading who leads now. */
  async coordinatorTargets(event: Pick<FaultEvent, 'scope'>): Promise<string[]> {
    const ids = this.chaos.coordinatorIds();
    const statuses = await Promise.all(ids.map((id) => fetchStatus(this.chaos.cluster.member(id).httpAddress ?? '')));
    const leader = leaderOf(statuses)?.id ?? '';
    const shuffled = shuffle(ids, this.rng);
    switch (event.scope) {
      case 'leader':
        return leader === '' ? [pick(ids, this.rng)] : [leader];
      case 'follower': {
        const followers = ids.filter((id) => id !== leader);
        return [pick(followers.length > 0 ? followers : ids, this.rng)];
      }
      case 'node':
        return [pick(ids, this.rng)];
      case 'minority':
        return shuffled.slice(0, Math.max(1, Math.floor((ids.length - 1) / 2)));
      case 'majority':
        return shuffled.slice(0, Math.floor(ids.length / 2) + 1);
      case 'all-nodes':
        return ids;
      case 'worker':
      case 'all-workers':
        return [];
    }
  }

  private async apply(event: FaultEvent, p: FaultParams, targets: readonly string[]): Promise<() => Promise<void>> {
    const c = this.chaos;
    switch (event.type) {
      case 'kill':
        for (const id of targets) await c.cluster.kill(id, 'SIGKILL');
        return async () => {
          for (const id of targets) if (c.cluster.member(id).child === null) await c.cluster.restart(id);
        };
      case 'restart':
        for (const id of targets) await c.cluster.kill(id, 'SIGTERM');
        return async () => {
          for (const id of targets) if (c.cluster.member(id).child === null) await c.cluster.restart(id);
        };
      case 'pause':
        for (const id of targets) await c.cluster.pause(id);
        return async () => {
          for (const id of targets) c.cluster.resume(id);
        };
      case 'isolate': {
        const links = c.select((l) => targets.includes(l.to) || targets.includes(l.from));
        await c.setEnabled(links, false);
        return () => c.setEnabled(links, true);
      }
      case 'split':
        return this.partition(splitHalves(c.coordinatorIds(), this.rng));
      case 'ring':
        return this.partition(ringCuts(c.coordinatorIds(), this.rng));
      case 'latency':
      case 'bandwidth':
      case 'reset':
      case 'blackhole':
      case 'slice':
        return this.toxics(this.linksOf(event, targets), toxicFor(event.type, p));
      case 'worker-crash':
        for (const id of targets) await c.cluster.killWorker(id, 'SIGKILL');
        return async () => {
          for (const id of targets) if (c.cluster.worker(id).child === null) await c.startWorker(id);
        };
      case 'worker-hang':
        for (const id of targets) await c.cluster.pauseWorker(id);
        return async () => {
          for (const id of targets) c.cluster.resumeWorker(id);
        };
      case 'worker-slow':
      case 'worker-flaky':
        // A target still restarting after a crash fault is waited for, not missed.
        for (const id of targets) await c.workerReady(id);
        return this.hooks(targets.map((id) => c.cluster.worker(id).httpAddress ?? ''), workerHookBody(event.type, p));
      case 'slow-fsync':
        return this.hooks(targets.map((id) => c.cluster.member(id).httpAddress ?? ''), { fsyncDelayMs: p.fsyncDelayMs ?? 0 });
    }
  }

  /** Links a link-toxic fault acts on: those touching the target coordinators, or those of the target workers. */
  private linksOf(event: FaultEvent, targets: readonly string[]): Link[] {
    if (event.scope === 'worker' || event.scope === 'all-workers') return this.chaos.select((l) => l.kind === 'worker' && targets.includes(l.from));
    return this.chaos.select((l) => targets.includes(l.to) || targets.includes(l.from));
  }

  /** Disables every link from a node or process to a coordinator it must not reach. */
  private async partition(cut: (from: string, to: string) => boolean): Promise<() => Promise<void>> {
    const sides = new Map<string, string>();
    const ids = this.chaos.coordinatorIds();
    // Workers and the client each stay with the side of one random coordinator.
    for (const from of [...this.chaos.workerIds, 'client']) sides.set(from, pick(ids, this.rng));
    const links = this.chaos.select((l) => (l.kind === 'peer' ? cut(l.from, l.to) : cut(sides.get(l.from) ?? l.to, l.to)));
    await this.chaos.setEnabled(links, false);
    this.options.log?.(`partition: ${links.map((l) => l.name).join(' ')}`);
    return () => this.chaos.setEnabled(links, true);
  }

  private async toxics(links: readonly Link[], toxic: ICreateToxicBody<unknown>): Promise<() => Promise<void>> {
    const added: Array<{ link: Link; name: string }> = [];
    for (const link of links) {
      const proxy = await this.chaos.proxy(link.name);
      for (const stream of ['upstream', 'downstream'] as const) {
        const name = `chaos_${toxic.type}_${stream}`;
        await proxy.addToxic({ ...toxic, name, stream });
        added.push({ link, name });
      }
    }
    return async () => {
      for (const { link, name } of added) {
        const proxy = await this.chaos.proxy(link.name);
        const t = await proxy.getToxic(name).catch(() => null);
        await t?.remove();
      }
    };
  }

  private async hooks(addresses: readonly string[], body: Record<string, number>): Promise<() => Promise<void>> {
    for (const address of addresses) await setChaosHooks(address, body);
    return async () => {
      for (const address of addresses) await setChaosHooks(address, null).catch(() => undefined);
    };
  }
}

function toxicFor(type: 'latency' | 'bandwidth' | 'reset' | 'blackhole' | 'slice', p: FaultParams): ICreateToxicBody<unknown> {
  switch (type) {
    case 'latency':
      return { type: 'latency', toxicity: 1, attributes: { latency: p.latencyMs ?? 0, jitter: p.jitterMs ?? 0 } } as ICreateToxicBody<unknown>;
    case 'bandwidth':
      return { type: 'bandwidth', toxicity: 1, attributes: { rate: p.rateKBps ?? 0 } } as ICreateToxicBody<unknown>;
    case 'reset':
      return { type: 'reset_peer', toxicity: p.toxicity ?? 1, attributes: { timeout: p.resetAfterMs ?? 0 } } as ICreateToxicBody<unknown>;
    case 'blackhole':
      return { type: 'timeout', toxicity: 1, attributes: { timeout: 0 } } as ICreateToxicBody<unknown>;
    case 'slice':
      return {
        type: 'slicer',
        toxicity: 1,
        attributes: { average_size: p.averageSize ?? 64, size_variation: p.sizeVariation ?? 0, delay: p.sliceDelayUs ?? 0 },
      } as ICreateToxicBody<unknown>;
  }
}

function workerHookBody(type: 'worker-slow' | 'worker-flaky', p: FaultParams): Record<string, number> {
  if (type === 'worker-slow') return { cpuShare: p.cpuShare ?? 1 };
  return { spawnFailRate: p.spawnFailRate ?? 0, crashRate: p.crashRate ?? 0, timeoutRate: p.timeoutRate ?? 0 };
}

/** Two random halves: a link is cut when its ends are on different sides. */
export function splitHalves(ids: readonly string[], rng: UniformRandom): (from: string, to: string) => boolean {
  const order = shuffle(ids, rng);
  const side = new Map(order.map((id, i) => [id, i < Math.floor(order.length / 2) ? 0 : 1]));
  return (from, to) => side.get(from) !== side.get(to);
}

/**
 * Majorities ring: every node keeps a majority, no two the same. With five
 * or more nodes in a random ring each reaches its neighbours within
 * distance d; with three, a random bridge node reaches both others, which
 * cannot reach each other.
 */
export function ringCuts(ids: readonly string[], rng: UniformRandom): (from: string, to: string) => boolean {
  const order = shuffle(ids, rng);
  const n = order.length;
  if (n <= 3) {
    const [, a, b] = order;
    return (from, to) => (from === a && to === b) || (from === b && to === a);
  }
  const majority = Math.floor(n / 2) + 1;
  const d = Math.ceil((majority - 1) / 2);
  const pos = new Map(order.map((id, i) => [id, i]));
  return (from, to) => {
    const i = pos.get(from) ?? 0;
    const j = pos.get(to) ?? 0;
    const dist = Math.min(Math.abs(i - j), n - Math.abs(i - j));
    return dist > d;
  };
}

export function shuffle<T>(items: readonly T[], rng: UniformRandom): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function pick<T>(items: readonly T[], rng: UniformRandom): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  return () => (done ??= fn());
}
