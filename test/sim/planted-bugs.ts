/**
 * Known bugs planted on purpose, used to prove that the simulator's checks
 * are not vacuous: each must be found, by the check named beside it. Bugs in
 * the core are RaftCore subclasses here (src/raft/core/core.ts stays correct);
 * bugs in the parts the simulator plays (driver, disk, network) are
 * `SimBug`s switched on through `SimOptions.plant`.
 */
import { MessageType, NO_NODE, RaftCore, type Message, type RaftConfig, type Ready } from '../../src/raft/index.js';
import { simBugs, type SimBug, type SimOptions } from './simulator.js';

/** Grants votes without the §5.4.1 up-to-date-log check. */
export class VoteWithoutLogCheck extends RaftCore {
  protected override logUpToDate(): boolean {
    return true;
  }
}

/** Commits whatever a quorum holds, even entries from earlier terms (ignores §5.4.2). */
export class CommitOldTermByCounting extends RaftCore {
  protected override maybeCommit(): boolean {
    const quorumIndex = Math.min(this.tracker.committed(), this.log.lastIndex());
    if (quorumIndex <= this.log.committed) return false;
    this.log.commitTo(quorumIndex);
    return true;
  }
}

/** Forgets its vote when another candidate of the same term asks: votes twice in a term. */
export class VoteTwiceInTerm extends RaftCore {
  override step(m: Message): void {
    if (m.type === MessageType.Vote && m.term === this.term && this.role === 'follower') this.vote = NO_NODE;
    super.step(m);
  }
}

/** Never answers a pre-vote: no candidate ever gets to campaign for real. */
export class IgnorePreVote extends RaftCore {
  override step(m: Message): void {
    if (m.type === MessageType.PreVote) return;
    super.step(m);
  }
}

/**
 * Heartbeats carry the leader's whole commit index instead of what the
 * follower is known to match (etcd sends min(match, commit)): a follower with
 * a stale tail from an older leader commits and applies it.
 */
export class HeartbeatCarriesFullCommit extends RaftCore {
  override ready(): Ready {
    const rd = super.ready();
    const messages = rd.messages as Message[];
    for (let i = 0; i < messages.length; i++) {
      if (messages[i]!.type === MessageType.Heartbeat) messages[i] = { ...messages[i]!, commit: this.log.committed };
    }
    return rd;
  }
}

const coreBugs = {
  'vote-without-log-check': VoteWithoutLogCheck,
  'commit-old-term': CommitOldTermByCounting,
  'vote-twice-in-term': VoteTwiceInTerm,
  'ignore-pre-vote': IgnorePreVote,
  'heartbeat-full-commit': HeartbeatCarriesFullCommit,
} as const;
type CoreBug = keyof typeof coreBugs;

export type PlantedBug = CoreBug | 'read-without-read-index' | SimBug;

export const plantedBugs: readonly PlantedBug[] = [...(Object.keys(coreBugs) as CoreBug[]), 'read-without-read-index', ...simBugs];

export function coreFactoryFor(bug: PlantedBug): ((config: RaftConfig) => RaftCore) | undefined {
  if (!(bug in coreBugs)) return undefined;
  const Core = coreBugs[bug as CoreBug];
  return (config) => new Core(config);
}

/** The simulator options that plant `bug`. */
export function plantOptions(bug: PlantedBug): Pick<SimOptions, 'coreFactory' | 'readWithoutReadIndex' | 'plant' | 'readMode'> {
  return {
    // A lease bug shows only where leases are used.
    ...(bug === 'pause-without-catch-up' ? { readMode: 'lease' as const } : {}),
    coreFactory: coreFactoryFor(bug),
    readWithoutReadIndex: bug === 'read-without-read-index',
    plant: (simBugs as readonly string[]).includes(bug) ? (bug as SimBug) : undefined,
  };
}
