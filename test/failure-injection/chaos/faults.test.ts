/**
 * Every fault type of the catalog applied and healed on a real local cluster
 * wired through the built-in fault proxy: each fault's effect is checked
 * where it acts (a process gone or stopped, proxies disabled, toxics in
 * place, chaos-hook settings), then that healing undoes it and the cluster
 * commits a write through the client's proxied link again.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestudoClient } from '../../../src/client/index.js';
import { FAULT_TYPES, type FaultEvent, type FaultType } from '../../../src/failure-injection/catalog.js';
import { ChaosCluster, type Link } from '../../../src/failure-injection/chaos-cluster.js';
import { FaultInjector, ringCuts, splitHalves } from '../../../src/failure-injection/injector.js';
import { setChaosHooks } from '../../../src/failure-injection/observer.js';
import { chaosTiming, workloadSubmission } from '../../../src/failure-injection/runner.js';
import { parseScenario } from '../../../src/failure-injection/scenario/index.js';
import { createPrng } from '../../../src/failure-injection/toxiproxy/index.js';

let dir: string;
let chaos: ChaosCluster;
let client: TestudoClient;
let injector: FaultInjector;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'testudo-faults-'));
  chaos = new ChaosCluster({ coordinators: 3, workers: 2, slots: 1, dataDir: dir, seed: 7, ...chaosTiming, logLevel: 'info' });
  await chaos.start();
  client = chaos.client({ callTimeoutMs: 1_000, totalTimeoutMs: 30_000 });
  await client.put('faults/start', '1');
  injector = new FaultInjector(chaos, createPrng(7), { adaptive: false });
}, 120_000);

afterAll(async () => {
  client?.close();
  await chaos?.stop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** Proxies of links, through the client, with their enabled flag and toxic names. */
async function proxyStates(links: readonly Link[]): Promise<Array<{ name: string; enabled: boolean; toxics: string[] }>> {
  // GET /proxies as Toxiproxy serves it (the client's Proxy objects do not keep the toxics).
  const all = (await (await fetch(`${chaos.toxiproxyUrl}/proxies`)).json()) as Record<string, { enabled: boolean; toxics: Array<{ type: string; stream: string }> }>;
  return links.map((l) => {
    const p = all[l.name];
    return { name: l.name, enabled: p?.enabled ?? false, toxics: (p?.toxics ?? []).map((t) => `${t.type}/${t.stream}`) };
  });
}

async function chaosSettings(httpAddress: string): Promise<Record<string, number>> {
  const res = await fetch(`http://${httpAddress}/chaos`);
  return (await res.json()) as Record<string, number>;
}

function procState(pid: number | undefined): Promise<string> {
  return readFile(`/proc/${pid ?? 0}/stat`, 'utf8').then((s) => s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3));
}

/** After a heal: every proxy enabled and clean, and a write commits through the client's link. */
async function expectHealed(): Promise<void> {
  const states = await proxyStates([...chaos.links.values()]);
  expect(states.filter((s) => !s.enabled || s.toxics.length > 0)).toEqual([]);
  // A retried write may come back as the duplicate of an attempt that did commit: either way it committed.
  await expect(client.put('faults/after', String(Date.now()))).resolves.toHaveProperty('index');
}

async function until(check: () => Promise<boolean>, timeoutMs: number, describe: () => Promise<string> = async () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms ${await describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const event = (type: FaultType, scope: FaultEvent['scope'], params: FaultEvent['params'] = {}): FaultEvent => ({ atMs: 0, type, scope, intensity: 'mild', params });

const tested = new Set<FaultType>();

describe('each fault applied and healed on a real cluster', () => {
  it('kill: SIGKILLs the leader, restarts it from its data on heal', async () => {
    tested.add('kill');
    const fault = await injector.inject(event('kill', 'leader'));
    expect(fault.targets).toHaveLength(1);
    const id = fault.targets[0]!;
    try {
      expect(chaos.cluster.member(id).child).toBeNull();
      await expect(client.put('faults/kill', '1')).resolves.toBeTruthy(); // the others elect a leader and commit
    } finally {
      await fault.heal();
    }
    expect(chaos.cluster.member(id).child).not.toBeNull();
    await expectHealed();
  }, 60_000);

  it('pause: stops a follower (state T), continues it on heal', async () => {
    tested.add('pause');
    const fault = await injector.inject(event('pause', 'follower'));
    const id = fault.targets[0]!;
    try {
      expect(await procState(chaos.cluster.member(id).child?.pid)).toBe('T');
    } finally {
      await fault.heal();
    }
    expect(await procState(chaos.cluster.member(id).child?.pid)).not.toBe('T');
    await expectHealed();
  }, 60_000);

  it('restart: stops a node gracefully and starts it again', async () => {
    tested.add('restart');
    const fault = await injector.inject(event('restart', 'node'));
    try {
      expect(chaos.cluster.member(fault.targets[0]!).child).toBeNull();
    } finally {
      await fault.heal();
    }
    expect(chaos.cluster.member(fault.targets[0]!).child).not.toBeNull();
    await expectHealed();
  }, 60_000);

  it('isolate: disables every proxied link into and out of the node', async () => {
    tested.add('isolate');
    const fault = await injector.inject(event('isolate', 'leader'));
    const id = fault.targets[0]!;
    try {
      const touching = chaos.select((l) => l.from === id || l.to === id);
      expect(touching.length).toBe(2 + 2 + 2 + 1); // out to 2 peers, in from 2 peers, 2 workers and the client
      expect((await proxyStates(touching)).every((s) => !s.enabled)).toBe(true);
      expect((await proxyStates(chaos.select((l) => l.from !== id && l.to !== id))).every((s) => s.enabled)).toBe(true);
      await expect(client.put('faults/isolated', '1')).resolves.toBeTruthy(); // the majority side elects and commits
    } finally {
      await fault.heal();
    }
    await expectHealed();
  }, 60_000);

  it('split and ring: cut the peers into halves or a majorities ring', async () => {
    tested.add('split').add('ring');
    for (const type of ['split', 'ring'] as const) {
      const fault = await injector.inject(event(type, 'all-nodes'));
      try {
        const cut = (await proxyStates(chaos.select((l) => l.kind === 'peer'))).filter((s) => !s.enabled);
        // 3 nodes: halves of 1 and 2 cut 4 directed links; the ring (a bridge) cuts the 2 between the outer nodes.
        expect(cut).toHaveLength(type === 'split' ? 4 : 2);
      } finally {
        await fault.heal();
      }
      await expectHealed();
    }
  }, 60_000);

  it('latency, bandwidth, reset, blackhole, slice: put their toxic on both streams of the target links', async () => {
    const expected: Record<string, string> = { latency: 'latency', bandwidth: 'bandwidth', reset: 'reset_peer', blackhole: 'timeout', slice: 'slicer' };
    for (const type of ['latency', 'bandwidth', 'reset', 'blackhole', 'slice'] as const) {
      tested.add(type);
      const fault = await injector.inject(event(type, 'worker'));
      try {
        const links = chaos.select((l) => l.from === fault.targets[0]);
        expect(links).toHaveLength(3);
        for (const s of await proxyStates(links)) expect(s.toxics.sort()).toEqual([`${expected[type]}/downstream`, `${expected[type]}/upstream`]);
      } finally {
        await fault.heal();
      }
      await expectHealed();
    }
  }, 90_000);

  it('latency on every node slows a write through the client link by at least the latency', async () => {
    const fault = await injector.inject(event('latency', 'all-nodes', { latencyMs: 150, jitterMs: 0 }));
    try {
      const started = Date.now();
      await client.put('faults/slow', '1');
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    } finally {
      await fault.heal();
    }
    await expectHealed();
  }, 60_000);

  it('worker-crash and worker-hang: kill or stop a worker, restart or continue it', async () => {
    tested.add('worker-crash').add('worker-hang');
    const crash = await injector.inject(event('worker-crash', 'worker'));
    try {
      expect(chaos.cluster.worker(crash.targets[0]!).child).toBeNull();
    } finally {
      await crash.heal();
    }
    expect(chaos.cluster.worker(crash.targets[0]!).child).not.toBeNull();
    const hang = await injector.inject(event('worker-hang', 'worker'));
    try {
      expect(await procState(chaos.cluster.worker(hang.targets[0]!).child?.pid)).toBe('T');
    } finally {
      await hang.heal();
    }
    expect(await procState(chaos.cluster.worker(hang.targets[0]!).child?.pid)).not.toBe('T');
    await expectHealed();
  }, 60_000);

  it('worker-slow, worker-flaky and slow-fsync: set the processes’ chaos hooks, cleared on heal', async () => {
    tested.add('worker-slow').add('worker-flaky').add('slow-fsync');
    const slow = await injector.inject({ ...event('worker-slow', 'worker'), intensity: 'moderate' });
    const worker = chaos.cluster.worker(slow.targets[0]!).httpAddress!;
    expect(await chaosSettings(worker)).toMatchObject({ cpuShare: 0.4 });
    await slow.heal();
    expect(await chaosSettings(worker)).toMatchObject({ cpuShare: 1 });
    const flaky = await injector.inject({ ...event('worker-flaky', 'all-workers'), intensity: 'severe' });
    for (const id of flaky.targets) expect(await chaosSettings(chaos.cluster.worker(id).httpAddress!)).toMatchObject({ spawnFailRate: 0.2, crashRate: 0.3, timeoutRate: 0.1 });
    await flaky.heal();
    for (const id of flaky.targets) expect(await chaosSettings(chaos.cluster.worker(id).httpAddress!)).toMatchObject({ spawnFailRate: 0, crashRate: 0, timeoutRate: 0 });
    const fsync = await injector.inject(event('slow-fsync', 'majority'));
    expect(fsync.targets).toHaveLength(2);
    for (const id of fsync.targets) expect(await chaosSettings(chaos.cluster.member(id).httpAddress!)).toEqual({ fsyncDelayMs: 5 });
    await expect(client.put('faults/fsync', '1')).resolves.toBeTruthy();
    await fsync.heal();
    for (const id of fsync.targets) expect(await chaosSettings(chaos.cluster.member(id).httpAddress!)).toEqual({ fsyncDelayMs: 0 });
    await expectHealed();
  }, 60_000);

  it('a hook fault on a worker still restarting after a crash waits for it instead of failing', async () => {
    const crash = await injector.inject(event('worker-crash', 'worker'));
    const id = crash.targets[0]!;
    const healing = crash.heal();
    // Spawned, but its HTTP port not up yet: the start of a Node process takes far longer than this poll.
    await until(async () => chaos.cluster.worker(id).child !== null, 10_000);
    const slow = await injector.inject({ ...event('worker-slow', 'all-workers'), intensity: 'moderate' });
    try {
      await healing;
      expect(slow.targets).toContain(id);
      expect(await chaosSettings(chaos.cluster.worker(id).httpAddress!)).toMatchObject({ cpuShare: 0.4 });
    } finally {
      await slow.heal();
    }
    await expectHealed();
  }, 60_000);

  it('adaptive intensity skips a worker whose breaker is open and hits the closed one in full', async () => {
    const direct = chaos.directClient();
    const [bad, good] = chaos.workerIds as [string, string];
    // Earlier cases crashed and restarted workers, which opens their breakers: start from closed ones.
    for (const w of await direct.listWorkers()) if (w.breakerState !== 'closed') await direct.releaseWorker(w.workerId, { reason: 'test start' });
    try {
      await direct.breakerConfig({ minimumCalls: 2, window: { kind: 'count', size: 4 }, openBaseMs: 120_000, openMaxMs: 120_000 });
      await setChaosHooks(chaos.cluster.worker(bad).httpAddress!, { crashRate: 1 });
      // Tests of 3 s: the injected crash (50–500 ms after the start) always finds the test still running.
      const scenario = parseScenario('name: adaptive\nworkload:\n  synthetic: { tasks: 12, duration: { distribution: fixed, value: 3s } }\n', 'adaptive.yaml');
      await client.submitRun(await workloadSubmission(scenario, 1));
      // Open, or already quarantined (forced-open) by the ladder: either way cut off.
      await until(async () => (await direct.listWorkers()).some((w) => w.name === bad && (w.breakerState === 'open' || w.breakerState === 'forced-open')), 60_000, async () =>
        JSON.stringify((await direct.listWorkers()).map((w) => [w.name, w.state, w.breakerState, w.breakerReason, w.running.length])),
      );
      // The good worker's breaker must read closed when the fault is drawn. A
      // crash of an earlier case can still open it after the release above
      // (the leader counts the attempts that crash lost when it learns of
      // them), so it is released again until it stays closed.
      await until(async () => {
        const w = (await direct.listWorkers()).find((x) => x.name === good);
        if (w === undefined || w.breakerState === 'closed') return w !== undefined;
        await direct.releaseWorker(w.workerId, { reason: 'test: the good worker starts closed' });
        return false;
      }, 10_000);
      const adaptive = new FaultInjector(chaos, createPrng(1), { adaptive: true });
      const fault = await adaptive.inject({ ...event('worker-hang', 'all-workers'), intensity: 'severe' });
      try {
        expect(fault.targets).toEqual([good]);
        expect(fault.intensity).toBe('severe');
        expect(fault.adapted?.reason).toMatch(new RegExp(`${bad}: breaker (open|forced-open) → none`));
      } finally {
        await fault.heal();
      }
    } finally {
      await setChaosHooks(chaos.cluster.worker(bad).httpAddress!, null);
      await direct.releaseWorker((await direct.listWorkers()).find((w) => w.name === bad)!.workerId, { reason: 'test over' });
      await direct.breakerConfig({ minimumCalls: 5, window: { kind: 'count', size: 20 }, openBaseMs: 30_000, openMaxMs: 600_000 });
      direct.close();
    }
    await expectHealed();
  }, 90_000);

  it('covered every type of the catalog', () => {
    expect(FAULT_TYPES.filter((t) => !tested.has(t))).toEqual([]);
  });
});

describe('partition shapes', () => {
  it('split cuts only across halves; the 5-node ring leaves each node a distinct majority', () => {
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5'];
    const cut = splitHalves(ids, createPrng(3));
    const side = (id: string): string => ids.filter((o) => !cut(id, o)).sort().join();
    expect(new Set(ids.map(side)).size).toBe(2);
    const ring = ringCuts(ids, createPrng(3));
    const reach = ids.map((id) => ids.filter((o) => !ring(id, o)).sort().join());
    expect(reach.every((r) => r.split(',').length === 3)).toBe(true);
    expect(new Set(reach).size).toBe(5);
  });
});
