/**
 * Test-only RaftCore variants, each with one known bug planted, used to prove
 * that the simulator's checkers are not vacuous: each bug must be found.
 */
import { RaftCore, type RaftConfig } from '../../src/raft/index.js';

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

export type PlantedBug = 'vote-without-log-check' | 'commit-old-term' | 'read-without-read-index';

export function coreFactoryFor(bug: PlantedBug): ((config: RaftConfig) => RaftCore) | undefined {
  if (bug === 'vote-without-log-check') return (config) => new VoteWithoutLogCheck(config);
  if (bug === 'commit-old-term') return (config) => new CommitOldTermByCounting(config);
  return undefined;
}
