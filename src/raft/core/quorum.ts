import type { NodeId } from './types.js';

/** Pure majority-quorum arithmetic over a set of voters. */

export type VoteResult = 'won' | 'lost' | 'pending';

/** Smallest number of voters that is a majority. */
export function majority(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index that a majority of voters has acknowledged, given each
 * voter's acknowledged (match) index. With no voters, returns +Infinity so
 * that a joint use (none here) would not block; callers never pass none.
 */
export function committedIndex(voters: readonly NodeId[], ackedIndex: (id: NodeId) => number): number {
  if (voters.length === 0) return Number.POSITIVE_INFINITY;
  const acked = voters.map(ackedIndex).sort((a, b) => b - a);
  return acked[majority(voters.length) - 1]!;
}

/** Whether the recorded votes already decide an election. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const needed = majority(voters.length);
  if (granted >= needed) return 'won';
  if (voters.length - rejected < needed) return 'lost';
  return 'pending';
}

/** Whether the voters for which `active` holds form a majority. */
export function quorumActive(voters: readonly NodeId[], active: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const id of voters) if (active(id)) count++;
  return count >= majority(voters.length);
}
