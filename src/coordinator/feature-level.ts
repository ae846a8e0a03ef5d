import type { ConfState, NodeId } from '../raft/index.js';

/**
 * What this build may write to the log that a build before it could not
 * apply, as one number every coordinator sends its peers on each Raft call
 * (GrpcTransportOptions.featureLevel). A coordinator that applied an entry it
 * does not understand would refuse it where the others apply it: its state
 * would lack the write or the run, and so would every snapshot it takes. So
 * the leader writes an entry of level N only while every member of the
 * configuration has a stream open to it that says N or more.
 *
 * - 0: builds before the levels, which send none. They apply `submit-run`
 *   with its templates in full and one `put` entry per put.
 * - 1 (the first build with levels): `submit-run` written as task deltas (since 2026-12-04)
 *   and `put_batch` entries, one per `Kv.PutMany` call (since 2026-12-05).
 *
 * Raising the level is a step of docs/operations.md's rolling upgrade: the
 * new forms start once the last member runs the new build, with no flag to
 * set. Going back to a build before a level once it is reached is not
 * supported: entries of that level may already be in the log.
 */
export const featureLevel = 1;

/** The level each newer form of entry needs. */
export const entryFeatureLevel = {
  /** A Kv.PutMany call as one `put_batch` entry (else one `put` entry per put). */
  putBatch: 1,
  /** `submit-run` with `taskDeltas` (else every template in full). */
  submitRunDeltas: 1,
} as const;

/**
 * The level the log may be written at: the lowest of this node's own and
 * each other member's (voters and learners) from its open stream; a member
 * with none open counts as 0, since it may return as an older build.
 */
export function clusterFeatureLevel(self: NodeId, own: number, confState: ConfState, peerLevel: (peer: NodeId) => number | null): number {
  let level = own;
  for (const member of [...confState.voters, ...confState.learners]) {
    if (member === self) continue;
    level = Math.min(level, peerLevel(member) ?? 0);
  }
  return level;
}
