import { describe, expect, it } from 'vitest';
import {
  AssertionFailure,
  ConfChangeType,
  EntryType,
  LeadershipTransferInProgressError,
  MemoryStorage,
  message,
  MessageType,
  NotLeaderError,
  ProposalLimitError,
  RaftCore,
  SeededRng,
  type Message,
  type NodeId,
  type RaftConfig,
  type Ready,
} from '../../src/raft/index.js';

const encode = (s: string): Uint8Array => new TextEncoder().encode(s);

interface Peer {
  readonly core: RaftCore;
  readonly storage: MemoryStorage;
}

function newPeer(id: NodeId, storage: MemoryStorage, extra: Partial<RaftConfig> = {}): Peer {
  return { core: new RaftCore({ id, storage, rng: new SeededRng(Number(id)), preVote: false, ...extra }), storage };
}

/** Handles one Ready the way a driver must: persist, (hand back messages to send), apply, advance. */
function handleReady(peer: Peer): Ready {
  const rd = peer.core.ready();
  peer.storage.save({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot });
  peer.core.advance(rd);
  return rd;
}

/** A few cores wired by a lossless FIFO network; `stabilize` runs it until quiet. */
class Cluster {
  readonly peers = new Map<NodeId, Peer>();
  private queue: Message[] = [];
  /** Messages for which this returns true are lost instead of delivered. */
  drop: (m: Message) => boolean = () => false;

  constructor(voters: readonly NodeId[], extra: Partial<RaftConfig> = {}) {
    for (const id of voters) {
      this.peers.set(id, newPeer(id, MemoryStorage.bootstrap(voters), extra));
      handleReady(this.peer(id)); // applies the bootstrap membership
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
    for (let round = 0; round < 100; round++) {
      let busy = false;
      for (const peer of this.peers.values()) {
        if (!peer.core.hasReady()) continue;
        busy = true;
        this.queue.push(...handleReady(peer).messages);
      }
      const delivering = this.queue;
      this.queue = [];
      for (const m of delivering) if (!this.drop(m)) this.core(m.to).step(m);
      if (!busy && delivering.length === 0) return;
    }
    throw new Error('cluster did not stabilize');
  }

  /** Elects `id` (campaign, then run the network until quiet). */
  elect(id: NodeId): void {
    this.core(id).campaign();
    this.stabilize();
    expect(this.core(id).status().role).toBe('leader');
  }
}

describe('RaftCore proposals', () => {
  it('a follower refuses a proposal with NotLeaderError naming the leader', () => {
    const cluster = new Cluster(['1', '2', '3']);
    const before = (() => {
      try {
        cluster.core('2').propose(encode('x'));
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(before).toBeInstanceOf(NotLeaderError);
    expect((before as NotLeaderError).leaderId).toBe('');

    cluster.elect('1');
    let caught: unknown = null;
    try {
      cluster.core('2').propose(encode('x'));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NotLeaderError);
    const err = caught as NotLeaderError;
    expect(err.leaderId).toBe('1');
    expect(err.name).toBe('NotLeaderError');
    expect(err.retryable).toBe(true);
  });

  it('refuses proposals beyond uncommittedBytesMax until entries commit', () => {
    const cluster = new Cluster(['1', '2', '3'], { uncommittedBytesMax: 100 });
    cluster.elect('1');
    const leader = cluster.core('1');
    leader.propose(new Uint8Array(50)); // 74 bytes counted
    let caught: unknown = null;
    try {
      leader.propose(new Uint8Array(10)); // 74 + 34 > 100
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProposalLimitError);
    expect((caught as ProposalLimitError).uncommittedBytes).toBe(74);
    expect((caught as ProposalLimitError).uncommittedBytesMax).toBe(100);
    expect((caught as ProposalLimitError).retryable).toBe(true);
    leader.propose(new Uint8Array(2)); // 74 + 26 = 100: exactly at the limit is fine

    cluster.stabilize();
    expect(leader.status().commit).toBe(leader.status().lastIndex);
    leader.propose(new Uint8Array(10));
  });

  it('an empty uncommitted log accepts one proposal larger than the limit', () => {
    const cluster = new Cluster(['1', '2', '3'], { uncommittedBytesMax: 10 });
    cluster.elect('1');
    const leader = cluster.core('1');
    expect(leader.propose(new Uint8Array(500)).index).toBe(5);
    expect(() => leader.propose(new Uint8Array(1))).toThrow(ProposalLimitError);
  });
});

describe('RaftCore commitment', () => {
  it('a single-node cluster elects itself and commits alone', () => {
    const peer = newPeer('1', MemoryStorage.bootstrap(['1']));
    handleReady(peer);
    peer.core.campaign();
    expect(peer.core.status().role).toBe('leader');
    const rd = handleReady(peer);
    expect(rd.messages).toEqual([]);
    expect(rd.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['2/2']);
    expect(rd.committedEntries.map((e) => e.index)).toEqual([2]);
    const at = peer.core.propose(encode('x'));
    const next = handleReady(peer);
    expect(next.committedEntries.map((e) => e.index)).toEqual([at.index]);
    expect(peer.core.status().applied).toBe(3);
  });

  it('only an entry of the current term commits by counting replicas (§5.4.2)', () => {
    // Node 1 holds 5/2 from an earlier term it led, never committed. Now it
    // becomes leader of term 4 and appends its empty entry 6/4.
    const storage = MemoryStorage.bootstrap(['1', '2', '3']);
    storage.append([
      { index: 4, term: 2, type: EntryType.Normal, data: new Uint8Array(0) },
      { index: 5, term: 2, type: EntryType.Normal, data: encode('old') },
    ]);
    storage.setHardState({ term: 3, vote: '', commit: 3 });
    const peer = newPeer('1', storage);
    handleReady(peer);
    peer.core.campaign();
    peer.core.step(message({ type: MessageType.VoteResp, from: '2', to: '1', term: 4 }));
    expect(peer.core.status().role).toBe('leader');
    expect(peer.core.log.lastIndex()).toBe(6);
    handleReady(peer);

    // A majority (1 and 2) now holds 5/2, but it is not of term 4: no commit.
    peer.core.step(message({ type: MessageType.AppResp, from: '2', to: '1', term: 4, index: 5 }));
    expect(peer.core.status().commit).toBe(3);
    // Once 6/4 is on a majority, it commits, and 5/2 with it.
    peer.core.step(message({ type: MessageType.AppResp, from: '2', to: '1', term: 4, index: 6 }));
    expect(peer.core.status().commit).toBe(6);
  });

  it('a heartbeat never tells a follower to commit past what it is known to hold', () => {
    const cluster = new Cluster(['1', '2', '3']);
    cluster.elect('1');
    const leader = cluster.peer('1');
    leader.core.propose(encode('x'));
    handleReady(leader); // appends go nowhere
    leader.core.step(message({ type: MessageType.AppResp, from: '2', to: '1', term: 2, index: 5 }));
    expect(leader.core.status().commit).toBe(5);
    leader.core.tick();
    const heartbeats = handleReady(leader).messages.filter((m) => m.type === MessageType.Heartbeat);
    expect(heartbeats.map((m) => `${m.to}:${m.commit}`).sort()).toEqual(['2:5', '3:4']);
  });
});

describe('RaftCore elections', () => {
  it('grants one vote per term and only to an up-to-date log', () => {
    const cluster = new Cluster(['1', '2', '3']);
    const voter = cluster.peer('3');
    voter.core.step(message({ type: MessageType.Vote, from: '1', to: '3', term: 2, index: 3, logTerm: 1 }));
    voter.core.step(message({ type: MessageType.Vote, from: '2', to: '3', term: 2, index: 3, logTerm: 1 }));
    const answers = handleReady(voter).messages.map((m) => `${m.to}:${m.reject}`);
    expect(answers).toEqual(['1:false', '2:true']);
    voter.core.step(message({ type: MessageType.Vote, from: '2', to: '3', term: 3, index: 2, logTerm: 1 }));
    expect(handleReady(voter).messages.map((m) => `${m.to}:${m.term}:${m.reject}`)).toEqual(['2:3:true']);
  });

  // Regression: campaign() on a leader once reached becomePreCandidate() and
  // tripped its assertion. It does nothing, as etcd ignores MsgHup on a leader.
  it('campaign() on the leader does nothing', () => {
    const cluster = new Cluster(['1', '2', '3']);
    cluster.elect('1');
    cluster.core('1').campaign();
    expect(cluster.core('1').status()).toMatchObject({ role: 'leader', term: 2 });
  });

  it('a message from an older term changes nothing', () => {
    const cluster = new Cluster(['1', '2', '3']);
    cluster.elect('1');
    const follower = cluster.core('2');
    const before = follower.status();
    follower.step(message({ type: MessageType.App, from: '3', to: '2', term: 1, index: 3, logTerm: 1, commit: 3 }));
    const after = follower.status();
    expect([after.term, after.leader, after.lastIndex]).toEqual([before.term, before.leader, before.lastIndex]);
  });
});

describe('RaftCore Ready contract', () => {
  it('a candidate persists its new term and vote before its Vote messages go out', () => {
    const cluster = new Cluster(['1', '2', '3']);
    const candidate = cluster.core('1');
    candidate.campaign();
    const rd = candidate.ready();
    expect(rd.hardState).toEqual({ term: 2, vote: '1', commit: 3 });
    expect(rd.mustSync).toBe(true);
    expect(rd.messages.map((m) => m.type)).toEqual([MessageType.Vote, MessageType.Vote]);
    expect(rd.softState).toEqual({ leader: '', role: 'candidate' });
  });

  it('one Ready at a time: hasReady is false and ready() refuses until advance()', () => {
    const cluster = new Cluster(['1', '2', '3']);
    const core = cluster.core('1');
    core.campaign();
    const rd = core.ready();
    expect(core.hasReady()).toBe(false);
    expect(() => core.ready()).toThrow(AssertionFailure);
    expect(() => core.advance({ ...rd })).toThrow(AssertionFailure);
    core.advance(rd);
    expect(core.hasReady()).toBe(false);
  });

  it('mustSync follows entries and term/vote, not a commit-only change', () => {
    const cluster = new Cluster(['1', '2', '3']);
    cluster.elect('1');
    const follower = cluster.peer('2');
    const leaderTerm = follower.core.status().term;

    follower.core.step(message({ type: MessageType.App, from: '1', to: '2', term: leaderTerm, index: 4, logTerm: 2, commit: 4, entries: [{ index: 5, term: 2, type: EntryType.Normal, data: encode('x') }] }));
    const withEntries = handleReady(follower);
    expect(withEntries.entries.map((e) => e.index)).toEqual([5]);
    expect(withEntries.mustSync).toBe(true);

    follower.core.step(message({ type: MessageType.Heartbeat, from: '1', to: '2', term: leaderTerm, commit: 5 }));
    const commitOnly = handleReady(follower);
    expect(commitOnly.hardState).toEqual({ term: leaderTerm, vote: '1', commit: 5 });
    expect(commitOnly.entries).toEqual([]);
    expect(commitOnly.mustSync).toBe(false);
    expect(commitOnly.committedEntries.map((e) => e.index)).toEqual([5]);

    follower.core.step(message({ type: MessageType.Heartbeat, from: '1', to: '2', term: leaderTerm, commit: 5 }));
    const nothingDurable = handleReady(follower);
    expect(nothingDurable.hardState).toBeNull();
    expect(nothingDurable.softState).toBeNull();
    expect(nothingDurable.mustSync).toBe(false);
  });

  // Regression: mustSync once ignored rd.snapshot. The same Ready's AppResp
  // acknowledges the snapshot, so it must be durable first.
  it('a Ready that carries a snapshot must sync', () => {
    const cluster = new Cluster(['1', '2', '3']);
    cluster.elect('1');
    const follower = cluster.peer('2');
    const term = follower.core.status().term;
    const snapshot = { metadata: { index: 10, term, confState: { voters: ['1', '2', '3'], learners: [] } }, data: new Uint8Array(0) };
    follower.core.step(message({ type: MessageType.Snap, from: '1', to: '2', term, snapshot }));
    const rd = handleReady(follower);
    expect(rd.snapshot).toBe(snapshot);
    expect(rd.messages.map((m) => `${m.type}:${m.index}`)).toEqual(['AppResp:10']);
    expect(rd.mustSync).toBe(true);
  });
});

describe('RaftCore heartbeats taken out of a held Ready (takeHeartbeats)', () => {
  it('a leader whose Ready is being written hands over its heartbeats at once; the rest waits for the next Ready', () => {
    const cluster = new Cluster(['1', '2', '3']);
    cluster.elect('1');
    const leader = cluster.core('1');
    leader.propose(encode('a'));
    const held = leader.ready(); // being written
    leader.tick();
    const heartbeats = leader.takeHeartbeats();
    expect(heartbeats.map((m) => [m.type, m.to, m.term])).toEqual([
      [MessageType.Heartbeat, '2', 2],
      [MessageType.Heartbeat, '3', 2],
    ]);
    expect(leader.takeHeartbeats()).toEqual([]);
    cluster.peer('1').storage.save({ hardState: held.hardState, entries: held.entries, snapshot: held.snapshot });
    leader.advance(held);
    expect(held.messages.map((m) => m.type)).toEqual([MessageType.App, MessageType.App]);
    expect(leader.hasReady() ? leader.ready().messages.filter((m) => m.type === MessageType.Heartbeat) : []).toEqual([]);
  });

  it('a taken heartbeat never tells a commit that counts the leader\'s own copy still being written', () => {
    const cluster = new Cluster(['1', '2', '3']);
    cluster.elect('1');
    const leader = cluster.core('1');
    const written = leader.status().commit;
    leader.propose(encode('a'));
    const held = leader.ready(); // entry written + 1 is being written on the leader
    const entryIndex = held.entries[0]!.index;
    expect(entryIndex).toBe(written + 1);
    // Follower 2 stores it and answers; the leader counts its own copy, so the entry is committed.
    const follower = cluster.peer('2');
    for (const m of held.messages.filter((x) => x.to === '2')) follower.core.step(m);
    const answers = handleReady(follower).messages;
    for (const m of answers) leader.step(m);
    expect(leader.status().commit).toBe(entryIndex);
    leader.tick();
    const heartbeats = leader.takeHeartbeats();
    expect(heartbeats.map((m) => [m.to, m.commit])).toEqual([
      ['2', written],
      ['3', written],
    ]);
    // Once the leader's write is done, the next Ready tells the commit.
    cluster.peer('1').storage.save({ hardState: held.hardState, entries: held.entries, snapshot: held.snapshot });
    leader.advance(held);
    leader.tick();
    expect(leader.takeHeartbeats().find((m) => m.to === '2')?.commit).toBe(entryIndex);
  });

  it('a new leader whose term is not on disk yet hands over nothing: its heartbeats wait for the Ready that writes the term', () => {
    const cluster = new Cluster(['1', '2', '3']);
    const candidate = cluster.core('1');
    candidate.campaign();
    const votes = candidate.ready(); // term 2 and the vote, being written
    for (const from of ['2', '3']) candidate.step(message({ type: MessageType.VoteResp, from, to: '1', term: 2 }));
    expect(candidate.status().role).toBe('leader');
    candidate.tick();
    expect(candidate.takeHeartbeats()).toEqual([]);
    cluster.peer('1').storage.save({ hardState: votes.hardState, entries: votes.entries, snapshot: votes.snapshot });
    candidate.advance(votes);
    const next = candidate.ready();
    expect(next.hardState?.term ?? 2).toBe(2);
    expect(next.messages.filter((m) => m.type === MessageType.Heartbeat).map((m) => m.to)).toEqual(['2', '3']);
  });

  it('a follower has none to hand over', () => {
    const cluster = new Cluster(['1', '2', '3']);
    cluster.elect('1');
    const follower = cluster.core('2');
    follower.tick();
    expect(follower.takeHeartbeats()).toEqual([]);
  });
});

describe('RaftCore removing the leader', () => {
  it('the removed leader hands over, retries the next voter when a hand-off fails, and never counts itself', () => {
    const cluster = new Cluster(['1', '2', '3', '4']);
    cluster.elect('1');
    const leader = cluster.core('1');
    const term = leader.status().term;
    // 4 is down for good; the first TimeoutNow to 2 is lost.
    let timeoutNowToTwoLost = false;
    cluster.drop = (m) => {
      if (m.to === '4' || m.from === '4') return true;
      if (m.type === MessageType.TimeoutNow && m.to === '2' && !timeoutNowToTwoLost) return (timeoutNowToTwoLost = true);
      return false;
    };
    const removal = leader.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: '1', context: new Uint8Array(0) });
    cluster.stabilize();

    // Applied: 1 leads on without counting itself, handing over to 2 (match ties with 3, lower id).
    let status = leader.status();
    expect(status.applied).toBeGreaterThanOrEqual(removal.index);
    expect(status.confState.voters).toEqual(['2', '3', '4']);
    expect(status.role).toBe('leader');
    expect(status.leadTransferee).toBe('2');
    expect(status.progress.has('1')).toBe(false);
    expect(timeoutNowToTwoLost).toBe(true);
    expect(() => leader.propose(encode('x'))).toThrow(LeadershipTransferInProgressError);
    // 2 and 3 learnt that the removal committed, so they count the new configuration.
    expect(cluster.core('2').status().confState.voters).toEqual(['2', '3', '4']);
    expect(cluster.core('3').status().confState.voters).toEqual(['2', '3', '4']);

    // One election timeout later the hand-off is retried with 3, which wins.
    for (let i = 0; i < 10; i++) {
      leader.tick();
      cluster.stabilize();
    }
    expect(cluster.core('3').status().role).toBe('leader');
    expect(cluster.core('3').status().term).toBe(term + 1);
    leader.tick();
    cluster.stabilize();
    status = leader.status();
    expect(status.role).toBe('follower');
    expect(status.term).toBe(term + 1);
    // The survivors commit without 1 and 4.
    const z = cluster.core('3').propose(encode('z'));
    cluster.stabilize();
    expect(cluster.core('3').status().commit).toBeGreaterThanOrEqual(z.index);
    expect(cluster.core('2').status().commit).toBeGreaterThanOrEqual(z.index);
  });

  it('a removed leader commits only what a quorum of the remaining voters holds', () => {
    const cluster = new Cluster(['1', '2', '3']);
    cluster.elect('1');
    const leader = cluster.core('1');
    const removal = leader.proposeConfChange({ type: ConfChangeType.RemoveNode, nodeId: '1', context: new Uint8Array(0) });
    // 1 appends one more entry before the removal applies, then is cut off.
    const tail = leader.propose(encode('y'));
    handleReady(cluster.peer('1'));
    expect(leader.status().commit).toBeLessThan(removal.index);
    cluster.drop = (m) => m.from === '1' || m.to === '1';
    // 2 and 3 receive and acknowledge the removal but not y.
    const term = leader.status().term;
    const entries = leader.log.slice(removal.index, removal.index + 1, Number.POSITIVE_INFINITY);
    for (const id of ['2', '3']) {
      const follower = cluster.peer(id);
      const prev = removal.index - 1;
      follower.core.step(message({ type: MessageType.App, from: '1', to: id, term, index: prev, logTerm: leader.log.term(prev), entries, commit: leader.status().commit }));
      for (const m of handleReady(follower).messages) leader.step(m);
    }
    handleReady(cluster.peer('1'));
    expect(leader.status().applied).toBe(removal.index);
    expect(leader.status().confState.voters).toEqual(['2', '3']);
    // Cut off for several election timeouts: 1 stays leader and its own copy of y commits nothing.
    for (let i = 0; i < 35; i++) {
      leader.tick();
      if (leader.hasReady()) handleReady(cluster.peer('1'));
    }
    expect(leader.status().role).toBe('leader');
    expect(leader.status().commit).toBe(removal.index);
    expect(leader.status().lastIndex).toBe(tail.index);
  });
});

describe('RaftCore leader reported lost (reportPeerLost)', () => {
  const withPreVote = { preVote: true, checkQuorum: true, electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 } as const;

  /** Ticks the listed cores (a dead node is not ticked) and runs the network, until `done` or `ticksMax`. */
  function tickUntil(cluster: Cluster, ids: readonly NodeId[], done: () => boolean, ticksMax: number): number {
    for (let ticks = 1; ticks <= ticksMax; ticks++) {
      for (const id of ids) cluster.core(id).tick();
      cluster.stabilize();
      if (done()) return ticks;
    }
    return Infinity;
  }

  it('the followers of a killed leader elect the first-ranked one at once, in one term', () => {
    const cluster = new Cluster(['1', '2', '3'], withPreVote);
    cluster.elect('1');
    const term = cluster.core('1').status().term;
    cluster.drop = (m) => m.from === '1' || m.to === '1';
    for (const id of ['2', '3']) cluster.core(id).reportPeerLost('1');
    cluster.stabilize();
    expect(cluster.core('2').status().leader).toBe('');
    const ticks = tickUntil(cluster, ['2', '3'], () => cluster.core('2').status().role === 'leader', 10);
    // Rank 0 ('2') campaigns on its first tick; without the report it would wait 10 to 19.
    expect(ticks).toBe(1);
    expect(cluster.core('2').status().term).toBe(term + 1);
    expect(cluster.core('3').status()).toMatchObject({ role: 'follower', leader: '2', term: term + 1 });
  });

  it('the next-ranked follower campaigns after the stagger when the first one cannot', () => {
    const cluster = new Cluster(['1', '2', '3'], { ...withPreVote, leaderLostStaggerTicks: 3 });
    cluster.elect('1');
    const term = cluster.core('1').status().term;
    // 2 is dead too in effect: it never hears the report and its messages are lost.
    cluster.drop = (m) => m.from === '1' || m.to === '1' || m.from === '2' || m.to === '2';
    cluster.core('3').reportPeerLost('1');
    const ticks = tickUntil(cluster, ['3'], () => cluster.core('3').status().role !== 'follower', 10);
    expect(ticks).toBe(4); // 1 + rank 1 × 3
    expect(cluster.core('3').status()).toMatchObject({ role: 'pre-candidate', term });
  });

  it('a first-ranked follower that is behind: the other refuses its pre-vote and campaigns at the next tick, not after the stagger', () => {
    const cluster = new Cluster(['1', '2', '3'], { ...withPreVote, leaderLostStaggerTicks: 5 });
    cluster.elect('1');
    const term = cluster.core('1').status().term;
    // 3 gets the leader's last entry, 2 does not.
    cluster.drop = (m) => m.from === '1' && m.to === '2';
    cluster.core('1').propose(new TextEncoder().encode('x'));
    cluster.stabilize();
    expect(cluster.core('3').status().lastIndex).toBeGreaterThan(cluster.core('2').status().lastIndex);
    cluster.drop = (m) => m.from === '1' || m.to === '1';
    for (const id of ['2', '3']) cluster.core(id).reportPeerLost('1');
    const ticks = tickUntil(cluster, ['2', '3'], () => cluster.core('3').status().role === 'leader', 20);
    // Tick 1: 2 (rank 0) asks for pre-votes and 3 refuses them. Tick 2: 3 campaigns; it would have waited until tick 6 (1 + rank 1 × 5).
    expect(ticks).toBe(2);
    expect(cluster.core('3').status().term).toBe(term + 1);
    expect(cluster.core('2').status()).toMatchObject({ role: 'follower', leader: '3', term: term + 1 });
  });

  it('a follower that still knows its leader refuses a behind pre-vote and keeps its own timeout', () => {
    // Without check-quorum a follower answers pre-votes while it hears a leader: it must not campaign because of one.
    const cluster = new Cluster(['1', '2', '3'], { preVote: true, checkQuorum: false, electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 });
    cluster.elect('1');
    const term = cluster.core('1').status().term;
    cluster.drop = (m) => m.from === '1' && m.to === '2';
    cluster.core('1').propose(new TextEncoder().encode('x'));
    cluster.stabilize();
    cluster.drop = (m) => (m.from === '1' && m.to === '2') || (m.from === '2' && m.to === '1');
    cluster.core('2').campaign();
    cluster.stabilize();
    expect(cluster.core('3').status()).toMatchObject({ role: 'follower', leader: '1', term });
    // Fewer ticks than its election timeout (10 to 19), the leader silent meanwhile: 3 does not campaign.
    expect(tickUntil(cluster, ['3'], () => cluster.core('3').status().role !== 'follower', 9)).toBe(Infinity);
    expect(cluster.core('3').status()).toMatchObject({ role: 'follower', leader: '1', term });
    expect(cluster.core('1').status()).toMatchObject({ role: 'leader', term });
  });

  it('a wrong report raises no term: the others still hear the leader and ignore the pre-vote', () => {
    const cluster = new Cluster(['1', '2', '3'], withPreVote);
    cluster.elect('1');
    const term = cluster.core('1').status().term;
    cluster.core('2').reportPeerLost('1');
    // Only 2 ticks (the leader does not): its pre-vote goes to 1 and 3, both in their lease.
    cluster.core('2').tick();
    cluster.stabilize();
    expect(cluster.core('2').status()).toMatchObject({ role: 'pre-candidate', term });
    // The leader's next heartbeat brings 2 back.
    tickUntil(cluster, ['1'], () => cluster.core('2').status().role === 'follower', 1);
    for (const id of ['1', '2', '3']) expect(cluster.core(id).status()).toMatchObject({ term, leader: '1' });
  });

  it('a report about anyone but the follower\'s leader, or made to the leader, changes nothing', () => {
    const cluster = new Cluster(['1', '2', '3'], withPreVote);
    cluster.elect('1');
    cluster.core('2').reportPeerLost('3');
    cluster.core('1').reportPeerLost('2');
    expect(cluster.core('2').status()).toMatchObject({ role: 'follower', leader: '1' });
    expect(cluster.core('2').hasReady()).toBe(false);
    expect(cluster.core('1').status().role).toBe('leader');
  });

  it('refuses a stagger that is not a positive integer', () => {
    expect(() => newPeer('1', MemoryStorage.bootstrap(['1']), { leaderLostStaggerTicks: 0 })).toThrow(RangeError);
    expect(() => newPeer('1', MemoryStorage.bootstrap(['1']), { leaderLostStaggerTicks: 1.5 })).toThrow(RangeError);
  });
});

describe('RaftCore lease-based reads', () => {
  /** A 3-voter lease-mode cluster with 1 leading and holding a lease (one heartbeat round answered). */
  function leaseCluster(): Cluster {
    const cluster = new Cluster(['1', '2', '3'], { readMode: 'lease' });
    // A node in lease mode refuses votes for an election timeout after it starts.
    for (const id of ['2', '3']) for (let i = 0; i < 10; i++) cluster.core(id).tick();
    for (let i = 0; i < 10; i++) cluster.core('1').tick();
    cluster.elect('1');
    cluster.core('1').tick(); // heartbeat round
    cluster.stabilize();
    return cluster;
  }

  /** Reads on `id` and returns what its next Ready says, with the messages it sends. */
  function readNow(cluster: Cluster, id: NodeId, context: string): Ready {
    cluster.core(id).readIndex(context);
    return handleReady(cluster.peer(id));
  }

  it('rejects lease mode without check-quorum, and a lease no longer than a heartbeat', () => {
    const storage = MemoryStorage.bootstrap(['1']);
    const rng = new SeededRng(1);
    expect(() => new RaftCore({ id: '1', storage, rng, readMode: 'lease', checkQuorum: false })).toThrow("readMode 'lease' needs checkQuorum");
    expect(() => new RaftCore({ id: '1', storage, rng, readMode: 'lease', electionTimeoutTicks: 4, leaseSafetyTicks: 3 })).toThrow('above heartbeatIntervalTicks');
    expect(() => new RaftCore({ id: '1', storage, rng, readMode: 'lease', leaseSafetyTicks: 0 })).toThrow('leaseSafetyTicks must be an integer of at least 1');
    expect(() => new RaftCore({ id: '1', storage, rng, readMode: 'fast' as never })).toThrow("readMode must be 'safe' or 'lease'");
  });

  it('answers a read with no message while the lease holds, and with a round once it lapsed', () => {
    const cluster = leaseCluster();
    const held = readNow(cluster, '1', 'held');
    expect(held.readStates).toEqual([{ index: cluster.core('1').status().commit, context: 'held' }]);
    expect(held.messages).toEqual([]);
    // Six more ticks unanswered: 6 ticks since the acknowledged heartbeat, inside the 10 − 3 = 7 window.
    cluster.drop = () => true;
    for (let i = 0; i < 6; i++) cluster.core('1').tick();
    expect(readNow(cluster, '1', 'edge').readStates.map((r) => r.context)).toEqual(['edge']);
    cluster.core('1').tick();
    const lapsed = readNow(cluster, '1', 'lapsed');
    expect(lapsed.readStates).toEqual([]);
    expect(lapsed.messages.filter((m) => m.type === MessageType.Heartbeat && m.context === 'lapsed').map((m) => m.to)).toEqual(['2', '3']);
  });

  it('judges the lease on the lease clock the driver advances after a late timer, and nothing else', () => {
    const cluster = leaseCluster();
    const leader = cluster.core('1');
    leader.advanceLeaseClock(6);
    expect(readNow(cluster, '1', 'six-late').readStates.map((r) => r.context)).toEqual(['six-late']);
    leader.advanceLeaseClock(1);
    expect(readNow(cluster, '1', 'seven-late').readStates).toEqual([]);
    // Check-quorum still counts ticks: a stall alone deposes nobody.
    expect(leader.status().role).toBe('leader');
    expect(() => leader.advanceLeaseClock(-1)).toThrow(AssertionFailure);
  });

  it('serves no lease read once it sent TimeoutNow, even after the transfer is abandoned', () => {
    const cluster = leaseCluster();
    cluster.drop = (m) => m.type === MessageType.TimeoutNow;
    cluster.core('1').transferLeadership('2');
    cluster.stabilize();
    for (let i = 0; i < 10; i++) cluster.core('1').tick(); // the transfer times out
    cluster.stabilize();
    expect(cluster.core('1').status().leadTransferee).toBe('');
    const read = readNow(cluster, '1', 'after-transfer');
    expect(read.readStates).toEqual([]);
    expect(read.messages.some((m) => m.type === MessageType.Heartbeat && m.context === 'after-transfer')).toBe(true);
  });

  it('ignores a lost leader report and an explicit campaign while a follower is in its lease', () => {
    const cluster = leaseCluster();
    const follower = cluster.core('2');
    follower.reportPeerLost('1');
    follower.campaign();
    expect(follower.status()).toMatchObject({ role: 'follower', leader: '1', term: cluster.core('1').status().term });
    expect(follower.hasReady()).toBe(false);
  });

  it('a restarted node refuses votes for an election timeout', () => {
    const cluster = leaseCluster();
    const restarted = newPeer('3', cluster.peer('3').storage, { readMode: 'lease' });
    const term = restarted.core.status().term;
    const vote = message({ type: MessageType.Vote, from: '2', to: '3', term: term + 1, index: 100, logTerm: term });
    restarted.core.step(vote);
    expect(restarted.core.status().term).toBe(term);
    for (let i = 0; i < 10; i++) restarted.core.tick();
    restarted.core.step(vote);
    expect(restarted.core.status()).toMatchObject({ term: term + 1, vote: '2' });
  });
});

describe('RaftCore check-quorum over several election timeouts (checkQuorumTimeouts)', () => {
  const base = { preVote: true, checkQuorum: true, electionTimeoutTicks: 10, heartbeatIntervalTicks: 1 } as const;

  const silence = (cluster: Cluster): void => {
    cluster.drop = (m) => m.to === '1';
  };

  /**
   * Ticks the leader through the rest of its current window, every answer
   * delivered but the last heartbeat's: the window ends heard from, and the
   * next one starts with nothing heard.
   */
  function answeredWindow(cluster: Cluster): void {
    cluster.drop = () => false;
    for (let t = 0; t < 9; t++) {
      cluster.core('1').tick();
      cluster.stabilize();
    }
    silence(cluster);
    cluster.core('1').tick();
    cluster.stabilize();
  }

  function elected(extra: Partial<RaftConfig> = {}): Cluster {
    const cluster = new Cluster(['1', '2', '3'], { ...base, ...extra });
    cluster.elect('1');
    answeredWindow(cluster);
    expect(cluster.core('1').status().role).toBe('leader');
    return cluster;
  }

  /** Ticks only the leader `ticks` times, its followers silent (their answers lost); the tick it stepped down on, or null. */
  function silentTicks(cluster: Cluster, ticks: number): number | null {
    silence(cluster);
    for (let t = 1; t <= ticks; t++) {
      cluster.core('1').tick();
      cluster.stabilize();
      if (cluster.core('1').status().role !== 'leader') return t;
    }
    return null;
  }

  it('by default a leader steps down after one election timeout without a quorum (etcd)', () => {
    const cluster = elected();
    expect(silentTicks(cluster, 30)).toBe(10);
    expect(cluster.core('1').status()).toMatchObject({ role: 'follower', leader: '' });
  });

  it('with 3, it rides out two silent timeouts and steps down at the end of the third', () => {
    const cluster = elected({ checkQuorumTimeouts: 3 });
    const term = cluster.core('1').status().term;
    expect(silentTicks(cluster, 40)).toBe(30);
    expect(cluster.core('1').status()).toMatchObject({ role: 'follower', term });
  });

  it('an answer from a quorum in between starts the count again', () => {
    const cluster = elected({ checkQuorumTimeouts: 3 });
    expect(silentTicks(cluster, 20)).toBeNull();
    // A window in which the followers answer: the count starts again.
    answeredWindow(cluster);
    expect(silentTicks(cluster, 29)).toBeNull();
    expect(cluster.core('1').status().role).toBe('leader');
    expect(silentTicks(cluster, 1)).toBe(1);
  });

  it('refuses a count below 1', () => {
    const storage = MemoryStorage.bootstrap(['1']);
    expect(() => new RaftCore({ id: '1', storage, rng: new SeededRng(1), checkQuorumTimeouts: 0 })).toThrow('checkQuorumTimeouts must be a positive integer');
  });
});
