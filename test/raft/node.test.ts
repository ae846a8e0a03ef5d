import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfChangeType, LevelDbStorage, RaftNode, type ConfChange, type Message, type NodeId, type ReadMode, type StateMachine, type Transport } from '../../src/raft/index.js';
import { applyYieldBytesMin, leaderLostStaggerTicksFor } from '../../src/raft/node/node.js';

/** When set, the hub logs each delivery (`deliver <to> commit <n>`) and each machine each apply (`apply <id> <index>`), in order. */
let events: string[] | null = null;

/** A register log: each command appends its text; the result is the new length. */
class ListMachine implements StateMachine<number> {
  appliedIndex = 0;
  items: string[] = [];
  constructor(private readonly id: NodeId = '') {}
  applyCommand(index: number, data: Uint8Array): number {
    events?.push(`apply ${this.id} ${index}`);
    this.appliedIndex = index;
    this.items.push(new TextDecoder().decode(data));
    return this.items.length;
  }
  applyConfChange(index: number, _change: ConfChange): void {
    this.appliedIndex = index;
  }
  applyEmpty(index: number): void {
    this.appliedIndex = index;
  }
  snapshot(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ i: this.appliedIndex, items: this.items }));
  }
  restore(data: Uint8Array): void {
    const s = JSON.parse(new TextDecoder().decode(data)) as { i: number; items: string[] };
    this.appliedIndex = s.i;
    this.items = s.items;
  }
  digest(): string {
    return JSON.stringify(this.items);
  }
}

/**
 * ListMachine with a snapshot in slices: captures the items, then yields
 * until the machine has applied an entry past the capture (the node's loop
 * went on between slices), at most `SlicedListMachine.slicesMax` times, and
 * returns the bytes. `captures` notes each capture and the highest applied
 * index its slices saw.
 */
class SlicedListMachine extends ListMachine {
  static readonly slicesMax = 100_000;
  readonly captures: { index: number; appliedSeen: number }[] = [];
  snapshotInSlices(): Generator<void, Uint8Array, void> {
    const captured = { i: this.appliedIndex, items: [...this.items] };
    const capture = { index: captured.i, appliedSeen: captured.i };
    this.captures.push(capture);
    return this.slicesOf(captured, capture);
  }

  private *slicesOf(captured: { i: number; items: string[] }, capture: { appliedSeen: number }): Generator<void, Uint8Array, void> {
    for (let k = 0; k < SlicedListMachine.slicesMax && this.appliedIndex <= captured.i; k++) yield;
    capture.appliedSeen = this.appliedIndex;
    return new TextEncoder().encode(JSON.stringify(captured));
  }
}

/** startNode builds SlicedListMachines while set. */
let slicedMachines = false;
/** The nodes' snapshotBytes (undefined: no bound). */
let snapshotBytes: number | undefined;
/** The index of every snapshot each node saved, in order. */
const snapshotsSaved = new Map<NodeId, number[]>();

/** In-process transport: delivery on a later macrotask, to nodes that are "up". */
class Hub {
  readonly nodes = new Map<NodeId, RaftNode<number>>();
  readonly down = new Set<NodeId>();
  transport(from: NodeId): Transport {
    return {
      send: (messages: readonly Message[]) => {
        for (const m of messages) {
          setImmediate(() => {
            const target = this.nodes.get(m.to);
            if (target === undefined || this.down.has(m.to) || this.down.has(from)) return;
            events?.push(`deliver ${m.to} commit ${m.commit}`);
            target.onMessage(m);
            if (m.type === 'Snap') this.nodes.get(from)?.onSnapshotStatus(m.to, true);
          });
        }
      },
      setPeer: () => undefined,
      removePeer: () => undefined,
      close: async () => undefined,
    };
  }
}

const ids = ['n1', 'n2', 'n3'];
let dirs: string[] = [];
let running: RaftNode<number>[] = [];
/** A node's slow disk: its storage waits for this before each synced write (null: no wait). */
const slowDisk = new Map<NodeId, () => Promise<void> | null>();
/** Commit latencies (seconds) each node reported through its observer. */
const commitLatencies = new Map<NodeId, number[]>();
/** Each running node's storage. */
const storages = new Map<NodeId, LevelDbStorage>();

async function startNode(hub: Hub, id: NodeId, dir: string, snapshotEntries = 1000, electionTimeoutTicks?: number, readMode?: ReadMode): Promise<RaftNode<number>> {
  const storage = await LevelDbStorage.open(dir, { nodeId: id, bootstrapConfState: { voters: ids, learners: [] }, beforeSyncedWrite: () => slowDisk.get(id)?.() ?? null });
  storages.set(id, storage);
  const latencies: number[] = [];
  commitLatencies.set(id, latencies);
  const saved: number[] = [];
  snapshotsSaved.set(id, saved);
  const observer = { onProposalCommitted: (seconds: number) => void latencies.push(seconds), onSnapshotSaved: (_seconds: number, index: number) => void saved.push(index) };
  const raft = { ...(electionTimeoutTicks === undefined ? {} : { electionTimeoutTicks }), ...(readMode === undefined ? {} : { readMode }) };
  const node = new RaftNode<number>({ id, storage, stateMachine: slicedMachines ? new SlicedListMachine(id) : new ListMachine(id), tickMs: 10, raft, snapshotEntries, snapshotCatchUpEntries: 5, observer, ...(snapshotBytes === undefined ? {} : { snapshotBytes }) });
  node.attachTransport(hub.transport(id));
  hub.nodes.set(id, node);
  node.start();
  running.push(node);
  return node;
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function cluster(snapshotEntries = 1000, electionTimeoutTicks?: number, readMode?: ReadMode): Promise<{ hub: Hub; nodes: RaftNode<number>[] }> {
  const hub = new Hub();
  const nodes: RaftNode<number>[] = [];
  for (const id of ids) {
    const dir = await mkdtemp(join(tmpdir(), `testudo-node-${id}-`));
    dirs.push(dir);
    nodes.push(await startNode(hub, id, dir, snapshotEntries, electionTimeoutTicks, readMode));
  }
  return { hub, nodes };
}

afterEach(async () => {
  events = null;
  slowDisk.clear();
  storages.clear();
  slicedMachines = false;
  snapshotBytes = undefined;
  await Promise.all(running.map((n) => n.stop()));
  running = [];
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

describe('RaftNode', () => {
  it('elects a leader and applies proposals on every replica, answering the proposer with the result', async () => {
    const { nodes } = await cluster();
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader));
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => leader.propose(new TextEncoder().encode(`v${i}`))));
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    await waitFor('replicas to apply', () => nodes.every((n) => n.appliedIndex === leader.appliedIndex));
    const digests = nodes.map((n) => n.stateMachine.digest());
    expect(new Set(digests).size).toBe(1);
    // One commit latency per proposal, measured where it was proposed (the leader) only.
    const latencies = commitLatencies.get(leader.id)!;
    expect(latencies).toHaveLength(50);
    expect(latencies.every((s) => Number.isFinite(s) && s >= 0)).toBe(true);
    for (const n of nodes) if (n !== leader) expect(commitLatencies.get(n.id)).toEqual([]);
  });

  it('lets the followers hear of a large entry\'s commit before the leader applies it (its apply may hold the loop)', async () => {
    const { nodes } = await cluster();
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader));
    events = [];
    const big = new TextEncoder().encode('x'.repeat(applyYieldBytesMin));
    const [, bigIndex] = await Promise.all([leader.propose(new TextEncoder().encode('small')), leader.propose(big).then(() => leader.appliedIndex)]);
    const log = events;
    const applyAt = log.indexOf(`apply ${leader.id} ${bigIndex}`);
    expect(applyAt, log.join('\n')).toBeGreaterThan(0);
    const toldBefore = log.slice(0, applyAt).filter((e) => /^deliver (\S+) commit (\d+)$/.test(e) && !e.startsWith(`deliver ${leader.id} `) && Number(e.split(' ')[3]) >= bigIndex);
    expect(toldBefore.length, log.join('\n')).toBeGreaterThan(0);
  });

  it('keeps sending heartbeats while a synced write holds its Ready loop for several election timeouts, so no follower campaigns', async () => {
    const { nodes } = await cluster();
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader));
    await leader.propose(new TextEncoder().encode('before'));
    await waitFor('followers know the leader', () => nodes.every((n) => n.leaderId === leader.id));
    const term = leader.status().term;
    // The election timeout is 10-20 ticks: hold the leader's next synced write until every node has ticked 60 times more.
    const follower = nodes.find((n) => n !== leader)!;
    const heldTicks = 60;
    let held = 0;
    let releasedAtTicks = 0;
    slowDisk.set(leader.id, () => {
      if (held++ > 0) return null;
      const until = Math.max(...nodes.map((n) => n.ticksElapsed)) + heldTicks;
      return waitFor('the held write\'s ticks', () => nodes.every((n) => n.ticksElapsed >= until)).then(() => void (releasedAtTicks = follower.ticksElapsed));
    });
    const ticksBefore = follower.ticksElapsed;
    await leader.propose(new TextEncoder().encode('held'));
    expect(held).toBeGreaterThan(0);
    expect(releasedAtTicks - ticksBefore).toBeGreaterThanOrEqual(heldTicks);
    for (const n of nodes) expect({ id: n.id, term: n.status().term, leader: n.leaderId }).toEqual({ id: n.id, term, leader: leader.id });
    expect((leader.stateMachine as ListMachine).items).toEqual(['before', 'held']);
  });

  it('writes one batch per replicated proposal on every node, leaving out the commit that follows it, and writes the commit of a membership change', async () => {
    const { hub, nodes } = await cluster();
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader));
    await leader.propose(new TextEncoder().encode('first'));
    await waitFor('replicas to apply', () => nodes.every((n) => n.appliedIndex === leader.appliedIndex));
    const before = new Map(ids.map((id) => [id, { batches: storages.get(id)!.batches, synced: storages.get(id)!.syncedBatches }]));
    for (let i = 0; i < 20; i++) {
      await leader.propose(new TextEncoder().encode(`v${i}`));
      await waitFor('replicas to apply', () => nodes.every((n) => n.appliedIndex === leader.appliedIndex));
    }
    for (const id of ids) {
      const storage = storages.get(id)!;
      const b = before.get(id)!;
      // Each proposal is one synced write of its entry (with the commit known then); the
      // commit-only change that follows it (the leader's after the acks, the followers'
      // after the next append or heartbeat) is not written.
      expect(storage.syncedBatches - b.synced).toBe(20);
      expect(storage.batches - b.batches).toBe(20);
      expect(storage.initialState().hardState.commit).toBeLessThan(leader.appliedIndex);
    }
    // A membership change's commit is written where it is applied.
    await leader.proposeConfChange({ type: ConfChangeType.AddLearner, nodeId: 'n4', context: new Uint8Array() });
    await waitFor('replicas to apply the change', () => nodes.every((n) => n.appliedIndex === leader.appliedIndex));
    for (const id of ids) expect(storages.get(id)!.initialState().hardState.commit).toBe(leader.appliedIndex);
    // A follower restarted with its written commit learns the rest from the leader.
    await leader.propose(new TextEncoder().encode('last'));
    const follower = nodes.find((n) => n !== leader)!;
    await waitFor('the follower to apply', () => follower.appliedIndex === leader.appliedIndex);
    const dir = dirs[ids.indexOf(follower.id)]!;
    await follower.stop();
    running = running.filter((n) => n !== follower);
    hub.nodes.delete(follower.id);
    const restarted = await startNode(hub, follower.id, dir);
    expect(storages.get(follower.id)!.initialState().hardState.commit).toBeLessThan(leader.appliedIndex);
    await waitFor('the restarted follower to apply everything', () => restarted.appliedIndex === leader.appliedIndex);
    expect(restarted.stateMachine.digest()).toBe(leader.stateMachine.digest());
  });

  it('refuses proposals on a follower with the leader hint and serves linearizable reads there', async () => {
    const { nodes } = await cluster();
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader));
    const follower = nodes.find((n) => n !== leader)!;
    await waitFor('follower knows leader', () => follower.leaderId === leader.id);
    await expect(follower.propose(new Uint8Array([1]))).rejects.toMatchObject({ name: 'NotLeaderError', leaderId: leader.id });
    await leader.propose(new TextEncoder().encode('x'));
    const index = await follower.readIndex();
    expect(index).toBeGreaterThanOrEqual(leader.appliedIndex);
    expect(follower.appliedIndex).toBeGreaterThanOrEqual(index);
    expect((follower.stateMachine as ListMachine).items).toContain('x');
  });

  it('serves linearizable reads on the leader and a follower in lease mode', async () => {
    const { nodes } = await cluster(1000, undefined, 'lease');
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader));
    const follower = nodes.find((n) => n !== leader)!;
    await waitFor('follower knows leader', () => follower.leaderId === leader.id);
    await leader.propose(new TextEncoder().encode('x'));
    const [atLeader, atFollower] = await Promise.all([leader.readIndex(), follower.readIndex()]);
    expect(atLeader).toBeGreaterThanOrEqual(2);
    expect(atFollower).toBeGreaterThanOrEqual(atLeader);
    expect((leader.stateMachine as ListMachine).items).toContain('x');
    expect((follower.stateMachine as ListMachine).items).toContain('x');
  });

  // Sliced: the machine's snapshot is encoded between loop turns (SnapshotScheduler in src/raft/node/snapshots.ts) while entries keep committing.
  it.each([{ sliced: false }, { sliced: true }])('snapshots (sliced: $sliced), compacts, and catches a restarted follower up through a snapshot', async ({ sliced }) => {
    slicedMachines = sliced;
    const { hub, nodes } = await cluster(20);
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader));
    const follower = nodes.find((n) => n !== leader)!;
    const followerDir = dirs[nodes.indexOf(follower)]!;
    hub.down.add(follower.id);
    await follower.stop();
    for (let i = 0; i < 100; i++) await leader.propose(new TextEncoder().encode(`w${i}`));
    await waitFor('a snapshot written', () => leader.status().snapshotIndex > 50);
    if (sliced) {
      const machine = leader.stateMachine as SlicedListMachine;
      expect(machine.captures.map((c) => c.index)).toContain(leader.status().snapshotIndex);
      // The loop applied entries while a snapshot was being encoded.
      expect(machine.captures.some((c) => c.appliedSeen > c.index)).toBe(true);
    }
    expect(leader.status().firstIndex).toBeGreaterThan(50);
    hub.down.delete(follower.id);
    const restarted = await startNode(hub, follower.id, followerDir, 20);
    await waitFor('restarted follower to catch up', () => restarted.appliedIndex === leader.appliedIndex);
    expect(restarted.stateMachine.digest()).toBe(leader.stateMachine.digest());
    expect((restarted.stateMachine as ListMachine).items).toHaveLength(100);
  });

  it('snapshots once the applied entries hold snapshotBytes of data, long before snapshotEntries', async () => {
    snapshotBytes = 4500;
    const { nodes } = await cluster(1000);
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader));
    // 1 KiB entries, one at a time: the fifth crosses 4,500 bytes; the count (1000) is far off.
    const entry = new Uint8Array(1024).fill(0x61);
    const indexes: number[] = [];
    for (let i = 0; i < 10; i++) {
      await leader.propose(entry);
      indexes.push(leader.appliedIndex);
    }
    await waitFor('two snapshots by bytes', () => snapshotsSaved.get(leader.id)!.length >= 2);
    // The first at the fifth entry, none before it; the count starts again there, so the next at the tenth.
    expect(snapshotsSaved.get(leader.id)!.slice(0, 2)).toEqual([indexes[4], indexes[9]]);
  });

  it('transfers leadership and fails pending proposals of the old leader as retryable', async () => {
    const { nodes } = await cluster();
    const leader = await waitFor('a leader', () => nodes.find((n) => n.isLeader));
    const target = nodes.find((n) => n !== leader)!;
    await waitFor('target in sync', () => target.appliedIndex === leader.appliedIndex);
    await leader.transferLeadership(target.id, 5000);
    await waitFor('target leads', () => target.isLeader);
    expect(await target.propose(new TextEncoder().encode('after'))).toBeGreaterThan(0);
  });

  it('elects a new leader soon after its transport reports the leader lost, in one term', async () => {
    // An election timeout of 1,000 ticks (10 to 20 s): no election here comes from a timeout.
    const { hub, nodes } = await cluster(1000, 1000);
    const [n1, n2, n3] = nodes as [RaftNode<number>, RaftNode<number>, RaftNode<number>];
    // n2's disk holds its writes until released, so n1 is elected and commits 'before' with n3
    // alone. A survivor missing a committed entry cannot win (n3 refuses it), and n3 would
    // campaign only after the stagger (5 s here): the leader stops once both followers hold
    // every entry it has.
    let releaseN2 = (): void => undefined;
    const n2Disk = new Promise<void>((resolve) => (releaseN2 = resolve));
    slowDisk.set('n2', () => n2Disk);
    n1.campaign();
    await waitFor('n1 leads', () => n1.isLeader);
    await n1.propose(new TextEncoder().encode('before'));
    releaseN2();
    const last = n1.status().lastIndex;
    await waitFor('followers know n1 and hold its log', () => [n2, n3].every((n) => n.leaderId === 'n1' && n.status().lastIndex >= last));
    const term = n1.status().term;
    hub.down.add('n1');
    await n1.stop();
    n2.onPeerLost('n1');
    n3.onPeerLost('n1');
    // n2 ranks first among the survivors: it campaigns on its next tick.
    await waitFor('n2 leads', () => n2.isLeader, 5000);
    expect(n2.status().term).toBe(term + 1);
    expect(await n2.propose(new TextEncoder().encode('after'))).toBeGreaterThan(0);
    await waitFor('n3 follows n2', () => n3.leaderId === 'n2');
    expect(n3.status().term).toBe(term + 1);
  });

  it('staggers the survivors of a lost leader by half an election timeout, at least the core default', () => {
    expect([4, 10, 16, 25].map(leaderLostStaggerTicksFor)).toEqual([3, 5, 8, 12]);
  });
});
