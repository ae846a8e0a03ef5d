import type { Message, NodeId } from '../core/types.js';

/**
 * Carries Raft messages between the members of one cluster.
 *
 * Contract:
 * - `send` never blocks and never throws because a peer is down: a message
 *   that cannot be delivered is dropped (Raft retries) and the peer is
 *   reported through `TransportHandler.onUnreachable`.
 * - Messages to one peer leave in the order given; nothing is promised across
 *   peers or across reconnects (Raft tolerates loss, duplication, reordering).
 * - A `Snap` message carries a whole snapshot; the transport may split it into
 *   chunks but hands the receiver one complete, checksummed `Snap` message, and
 *   tells the sender how it went through `onSnapshotStatus`.
 * - Every queue is bounded; when a peer's queue is full, new messages to it
 *   are dropped and it is reported unreachable.
 */
export interface Transport {
  send(messages: readonly Message[]): void;
  /** Adds a peer or changes its address (the next connection uses it). */
  setPeer(id: NodeId, address: string): void;
  /** Forgets a peer and closes its stream. */
  removePeer(id: NodeId): void;
  close(): Promise<void>;
}

/** What the transport reports to the node that owns it. Called on the event loop, never re-entrantly. */
export interface TransportHandler {
  onMessage(message: Message): void;
  onUnreachable(peer: NodeId): void;
  onSnapshotStatus(peer: NodeId, ok: boolean): void;
  /** A peer's address learned from an inbound stream (new members dial first). */
  onPeerAddress(peer: NodeId, address: string): void;
  /**
   * A peer's stream into this node ended or broke: its process exited or was
   * killed (the OS closes its sockets at once), or the link failed. A hint,
   * not a verdict: a live peer reconnects and its next message says so.
   */
  onPeerLost?(peer: NodeId): void;
}
