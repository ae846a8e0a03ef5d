import { describe, expect, it } from 'vitest';
import { MemoryStorage, message, MessageType, NotLeaderError, RaftCore, SeededRng, type Message, type NodeId, type Ready } from '../../src/raft/index.js';

/**
 * A follower whose durable log went back (restarted from an older copy of its
 * data): the leader detects it instead of retrying one index for ever, stops
 * telling it to commit, says so on heartbeats, and catches it up once an
 * operator resets its progress.
 */

const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
/** Rounds a network may take to go quiet; a leader retrying one index for ever never does. */
const stabilizeRoundsMax = 100;

interface Peer {
  core: RaftCore;
  storage: MemoryStorage;
}

function handleReady(peer: Peer): Ready {
  const rd = peer.core.ready();
  peer.storage.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot });
  peer.core.advance(rd);
  return rd;
}

function newCore(id: NodeId, storage: MemoryStorage): RaftCore {
  return new RaftCore({ id, storage, rng: new SeededRng(Number(id)), preVote: false, heartbeatIntervalTicks: 1, electionTimeoutTicks: 10 });
}

/** An independent copy of a storage's hard state and entries (an older copy of a data directory). */
function copyOf(storage: MemoryStorage): MemoryStorage {
  const copy = new MemoryStorage();
  const entries = storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
  copy.save({ hardState: storage.initialState().hardState, entries, snapshot: null });
  return copy;
}

class Cluster {
  readonly peers = new Map<NodeId, Peer>();
  /** Every message delivered, in order. */
  readonly delivered: Message[] = [];
  private queue: Message[] = [];

  constructor(voters: readonly NodeId[]) {
    for (const id of voters) {
      const storage = MemoryStorage.bootstrap(voters);
      this.peers.set(id, { core: newCore(id, storage), storage });
      handleReady(this.peer(id));
    }
  }

  peer(id: NodeId): Peer {
    const peer = this.peers.get(id);
    if (peer === undefined) throw new Error(`no peer ${id}`);
    return peer;
  }

  core(id: NodeId): RaftCore {
    return this.peer(id).core;
  }

  stabilize(): void {
    for (let round = 0; round < stabilizeRoundsMax; round++) {
      let busy = false;
      for (const peer of this.peers.values()) {
        if (!peer.core.hasReady()) continue;
        busy = true;
        this.queue.push(...handleReady(peer).messages);
      }
      const delivering = this.queue;
      this.queue = [];
      for (const m of delivering) {
        this.delivered.push(m);
        this.core(m.to).step(m);
      }
      if (!busy && delivering.length === 0) return;
    }
    throw new Error(`the cluster did not go quiet within ${stabilizeRoundsMax} rounds`);
  }

  /** Restarts `id` from `storage` (volatile state and unsent messages are lost). */
  restartFrom(id: NodeId, storage: MemoryStorage): void {
    const peer = { core: newCore(id, storage), storage };
    this.peers.set(id, peer);
    this.queue = this.queue.filter((m) => m.to !== id && m.from !== id);
    while (peer.core.hasReady()) handleReady(peer);
  }

  write(leader: NodeId, count: number, prefix: string): void {
    for (let i = 0; i < count; i++) this.core(leader).propose(encode(`${prefix}${i}`));
    this.stabilize();
  }

  heartbeat(leader: NodeId): void {
    this.core(leader).tick();
    this.stabilize();
  }
}

/** Three nodes, n1 leading; n3 restarted from a copy taken `behind` entries ago. */
function regressedCluster(behind: number): { c: Cluster; oldLast: number; match: number } {
  const c = new Cluster(['1', '2', '3']);
  c.core('1').campaign();
  c.stabilize();
  c.write('1', 5, 'a');
  const old = copyOf(c.peer('3').storage);
  c.write('1', behind, 'b');
  const match = c.core('1').status().progress.get('3')!.match;
  expect(match).toBe(c.core('1').status().lastIndex);
  c.restartFrom('3', old);
  return { c, oldLast: old.lastIndex(), match };
}

describe('a follower whose log went back', () => {
  it('is detected on its first rejection below match, with no retry loop, and is told it cannot catch up', () => {
    const { c, oldLast, match } = regressedCluster(20);
    c.write('1', 1, 'c'); // throws if the leader retried the same index for ever
    const pr = c.core('1').status().progress.get('3')!;
    expect(pr.regression).toEqual({ match, followerLastIndex: oldLast });
    expect(pr.match).toBe(match);
    expect(c.core('1').regressedFollowers().get('3')).toEqual({ match, followerLastIndex: oldLast });
    expect(c.core('3').status().lastIndex).toBe(oldLast);

    // Each heartbeat round brings one probe, and the heartbeat tells n3 to commit nothing and that it is stuck.
    const before = c.delivered.length;
    c.heartbeat('1');
    const round = c.delivered.slice(before).filter((m) => m.to === '3');
    expect(round.filter((m) => m.type === MessageType.App)).toHaveLength(1);
    const heartbeats = round.filter((m) => m.type === MessageType.Heartbeat);
    expect(heartbeats.map((m) => [m.commit, m.reject])).toEqual([[0, true]]);
    const st3 = c.core('3').status();
    expect(st3.leaderReportsRegression).toBe(true);
    expect(st3.leaderCommitHeard).toBe(c.core('1').status().commit);
    expect(st3.commit).toBeLessThanOrEqual(oldLast);
    expect(st3.lastIndex).toBe(oldLast);
    // The quorum of n1 and n2 still commits.
    c.write('1', 3, 'd');
    expect(c.core('2').status().commit).toBe(c.core('1').status().lastIndex);
  });

  it('catches up by log once the leader resets its progress', () => {
    const { c, oldLast } = regressedCluster(20);
    c.write('1', 1, 'c');
    const reset = c.core('1').resetFollowerProgress('3');
    expect(reset).toEqual({ probeFrom: oldLast, wasRegressed: true });
    expect(c.core('1').status().progress.get('3')).toMatchObject({ match: 0, regression: null });
    c.stabilize();
    c.heartbeat('1');
    const leader = c.core('1').status();
    expect(leader.progress.get('3')).toMatchObject({ match: leader.lastIndex, state: 'replicate', regression: null });
    const st3 = c.core('3').status();
    expect([st3.lastIndex, st3.commit, st3.leaderReportsRegression]).toEqual([leader.lastIndex, leader.commit, false]);
    c.write('1', 2, 'e');
    expect(c.core('3').status().commit).toBe(c.core('1').status().commit);
  });

  it('catches up by snapshot when the entries it lost were compacted', () => {
    const { c, oldLast } = regressedCluster(30);
    c.write('1', 1, 'c');
    const leader = c.peer('1');
    const applied = leader.core.status().applied;
    leader.storage.createSnapshot(applied, leader.core.appliedConfState(), encode('state'));
    leader.storage.compact(applied);
    expect(leader.storage.firstIndex()).toBeGreaterThan(oldLast + 1);
    c.core('1').resetFollowerProgress('3');
    c.stabilize();
    expect(c.delivered.some((m) => m.type === MessageType.Snap && m.to === '3')).toBe(true);
    c.write('1', 1, 'f');
    expect(c.core('3').status().commit).toBe(c.core('1').status().commit);
    expect(c.core('1').status().progress.get('3')!.regression).toBeNull();
  });

  it('clears a false alarm (a stale rejection) at the next probe, and ignores a rejection of an index below match', () => {
    const c = new Cluster(['1', '2', '3']);
    c.core('1').campaign();
    c.stabilize();
    c.write('1', 10, 'a');
    const match = c.core('1').status().progress.get('2')!.match;
    c.core('1').step(message({ type: MessageType.AppResp, from: '2', to: '1', term: c.core('1').status().term, index: match - 3, reject: true, rejectHint: match - 6 }));
    expect(c.core('1').status().progress.get('2')!.regression).toBeNull();
    c.core('1').step(message({ type: MessageType.AppResp, from: '2', to: '1', term: c.core('1').status().term, index: match, reject: true, rejectHint: match - 6 }));
    expect(c.core('1').status().progress.get('2')!.regression).toEqual({ match, followerLastIndex: match - 6 });
    c.stabilize();
    c.heartbeat('1');
    expect(c.core('1').status().progress.get('2')!.regression).toBeNull();
    c.write('1', 1, 'b');
    c.heartbeat('1'); // a probe answered at match leaves probe state on the next append (as before the alarm)
    expect(c.core('1').status().progress.get('2')).toMatchObject({ match: c.core('1').status().lastIndex, state: 'replicate' });
  });

  it('can only be reset on the leader, for a follower', () => {
    const { c } = regressedCluster(5);
    expect(() => c.core('2').resetFollowerProgress('3')).toThrow(NotLeaderError);
    expect(() => c.core('1').resetFollowerProgress('9')).toThrow(RangeError);
    expect(() => c.core('1').resetFollowerProgress('1')).toThrow(RangeError);
    expect(c.core('2').regressedFollowers().size).toBe(0);
  });
});
