import { EntryType, type HardState, type Ready } from '../core/types.js';

/**
 * The hard state a Ready's write must hold, or null when it need not write
 * one. A change of the commit index alone is not written: the commit is
 * volatile in Raft (a restarted node learns it again from the leader's next
 * append or heartbeat, or from a candidate, and RaftLog starts it at the
 * snapshot's index at least), and writing it cost every node a second
 * LevelDB write per commit under a light load: one synced write for the
 * entries, then one more for the commit that follows them. The newest
 * commit rides along when the Ready writes anyway (entries, a snapshot, a
 * new term or vote), and it is written when the Ready commits a membership
 * change, so that a node that applied a change still holds it after a
 * restart (the operator stops a removed member once the remaining ones
 * applied its removal, docs/operations.md).
 *
 * `written` is the hard state last written (the storage's initialState);
 * `latest` the newest one the core handed out, in this Ready or an earlier
 * one (the core hands out a hard state only when it changed).
 */
export function hardStateToWrite(rd: Ready, written: HardState, latest: HardState): HardState | null {
  const hardState = rd.hardState ?? latest;
  if (hardState.term !== written.term || hardState.vote !== written.vote) return hardState;
  if (hardState.commit === written.commit) return null;
  if (rd.entries.length > 0 || rd.snapshot !== null) return hardState;
  for (const entry of rd.committedEntries) if (entry.type === EntryType.ConfChange) return hardState;
  return null;
}
