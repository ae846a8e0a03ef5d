import { ConfChangeError, CorruptionError } from './errors.js';
import { ConfChangeType, type ConfChange, type ConfState, type NodeId } from './types.js';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Longest node id accepted, in UTF-8 bytes. */
export const nodeIdBytesMax = 255;

/** Layout: type (1 byte), id length (1 byte), id (UTF-8), context (rest). */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const id = textEncoder.encode(change.nodeId);
  if (id.byteLength === 0 || id.byteLength > nodeIdBytesMax) throw new RangeError(`node id must be 1..${nodeIdBytesMax} bytes`);
  const out = new Uint8Array(2 + id.byteLength + change.context.byteLength);
  out[0] = change.type;
  out[1] = id.byteLength;
  out.set(id, 2);
  out.set(change.context, 2 + id.byteLength);
  return out;
}

export function decodeConfChange(data: Uint8Array, index: number): ConfChange {
  const type = data[0];
  const idBytes = data[1];
  if (type === undefined || idBytes === undefined || type > ConfChangeType.RemoveNode || data.byteLength < 2 + idBytes || idBytes === 0) {
    throw new CorruptionError(index, `conf change entry at index ${index} is malformed`);
  }
  let nodeId: string;
  try {
    nodeId = textDecoder.decode(data.subarray(2, 2 + idBytes));
  } catch (cause) {
    throw new CorruptionError(index, `conf change entry at index ${index} has a node id that is not UTF-8`, { cause });
  }
  return { type: type as ConfChangeType, nodeId, context: data.slice(2 + idBytes) };
}

/** The membership after applying `change` to `conf` (conf is not modified). */
export function applyToConfState(conf: ConfState, change: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== change.nodeId);
  const learners = conf.learners.filter((id) => id !== change.nodeId);
  if (change.type === ConfChangeType.AddVoter) voters.push(change.nodeId);
  if (change.type === ConfChangeType.AddLearner) learners.push(change.nodeId);
  return { voters: voters.sort(), learners: learners.sort() };
}

export function isMember(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.learners.includes(id);
}

/**
 * Refuses a change Raft must not make from `conf`: adding an existing voter,
 * demoting a voter, removing a stranger or the last voter, or promoting a
 * learner that lags the leader by more than `learnerPromotionLagMax` entries
 * (`learnerLag`; it would stall commits until it caught up).
 */
export function validateConfChange(conf: ConfState, change: ConfChange, learnerLag: number, learnerPromotionLagMax: number): void {
  const isVoter = conf.voters.includes(change.nodeId);
  const isLearner = conf.learners.includes(change.nodeId);
  if (change.type === ConfChangeType.AddVoter && isVoter) throw new ConfChangeError('invalid', `${change.nodeId} is already a voter`);
  if (change.type === ConfChangeType.AddLearner && (isVoter || isLearner)) {
    throw new ConfChangeError('invalid', `${change.nodeId} is already a member; demoting a voter is not supported`);
  }
  if (change.type === ConfChangeType.RemoveNode) {
    if (!isVoter && !isLearner) throw new ConfChangeError('invalid', `${change.nodeId} is not a member`);
    if (isVoter && conf.voters.length === 1) throw new ConfChangeError('last-voter', `cannot remove the last voter ${change.nodeId}`);
  }
  if (change.type === ConfChangeType.AddVoter && isLearner && learnerLag > learnerPromotionLagMax) {
    throw new ConfChangeError('learner-behind', `learner ${change.nodeId} is ${learnerLag} entries behind (limit ${learnerPromotionLagMax})`);
  }
}
