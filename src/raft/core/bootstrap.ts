import { encodeConfChange } from './conf-change.js';
import { ConfChangeType, EntryType, NO_NODE, type ConfState, type Entry, type HardState, type NodeId } from './types.js';

/**
 * The first state of every member of a new cluster: one committed AddVoter
 * (or AddLearner) entry per initial member at term 1, indexes 1..n.
 *
 * Membership then lives in the log like any later change, so a node that
 * joins afterwards and replays the log from index 1 rebuilds the same
 * configuration (keeping it only in snapshot metadata would leave a joiner
 * with no record of the founding members). All founders must bootstrap with
 * the same members in the same order.
 *
 * `contexts` is each founder's conf-change context (a driver keeps the
 * member's address there); founders must pass the same contexts too.
 */
export function bootstrapState(
  conf: ConfState,
  contexts: ReadonlyMap<NodeId, Uint8Array> = new Map(),
): { hardState: HardState; entries: Entry[] } {
  const members = [
    ...[...conf.voters].sort().map((nodeId) => ({ type: ConfChangeType.AddVoter, nodeId })),
    ...[...conf.learners].sort().map((nodeId) => ({ type: ConfChangeType.AddLearner, nodeId })),
  ];
  if (conf.voters.length === 0) throw new RangeError('a cluster needs at least one voter to bootstrap');
  const entries: Entry[] = members.map((change, i) => ({
    term: 1,
    index: i + 1,
    type: EntryType.ConfChange,
    data: encodeConfChange({ ...change, context: contexts.get(change.nodeId) ?? new Uint8Array(0) }),
  }));
  return { hardState: { term: 1, vote: NO_NODE, commit: entries.length }, entries };
}
