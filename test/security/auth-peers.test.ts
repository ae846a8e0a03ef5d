// The receiving side of a peer stream drops messages whose sender is not the
// stream's node, or a node seen removed, and counts them.

import { describe, expect, it } from 'vitest';

import { encodeBatchFrame } from '../../src/raft/transport/peer-codec.js';
import { InboundStream, type PeerRefusal, type ReceiverContext } from '../../src/raft/transport/peer-receiver.js';
import { MessageType, message, type Message } from '../../src/raft/core/types.js';
import { RemovedMembers, removedMembersMax } from '../../src/security/auth-peers.js';

const heartbeat = (from: string, term: number): Message => message({ type: MessageType.Heartbeat, from, to: 'n1', term });

function receiver(removed: RemovedMembers): { ctx: ReceiverContext; delivered: Message[]; refused: [PeerRefusal, number][]; warnings: number } {
  const delivered: Message[] = [];
  const refused: [PeerRefusal, number][] = [];
  const out = { delivered, refused, warnings: 0 };
  const ctx: ReceiverContext = {
    nodeId: 'n1',
    handler: { onMessage: (m) => delivered.push(m), onUnreachable: () => undefined, onSnapshotStatus: () => undefined, onPeerAddress: () => undefined },
    logger: { debug() {}, info() {}, warn: () => void out.warnings++, error() {} },
    stats: { framesSent: 0, messagesSent: 0, bytesSent: 0, framesReceived: 0, messagesReceived: 0, droppedMessages: 0, snapshotsSent: 0, snapshotsReceived: 0, framesRejected: 0, snapshotsRejected: 0 },
    snapshotBytesMax: 1 << 20,
    admitsSender: (from) => !removed.has(from),
    onRefused: (reason, count) => refused.push([reason, count]),
  };
  return { ctx, ...out, get warnings() { return out.warnings; } };
}

describe('peer message senders', () => {
  it("delivers the stream's own messages and drops forged and removed senders, counted, warning once each", () => {
    const removed = new RemovedMembers();
    removed.observe(['n1', 'n2', 'n3', 'n4']);
    removed.observe(['n1', 'n2', 'n3']);
    const r = receiver(removed);
    const fromN2 = new InboundStream(r.ctx, 'n2');
    fromN2.onFrame(encodeBatchFrame([heartbeat('n2', 5), heartbeat('n3', 999_999_999), heartbeat('n3', 999_999_999)]));
    const fromN4 = new InboundStream(r.ctx, 'n4');
    fromN4.onFrame(encodeBatchFrame([heartbeat('n4', 999_999_999)]));
    expect(r.delivered.map((m) => [m.from, m.term])).toEqual([['n2', 5]]);
    expect(r.refused).toEqual([
      ['forged-sender', 1],
      ['forged-sender', 1],
      ['non-member', 1],
    ]);
    expect(r.warnings).toBe(2);
  });

  it('remembers removed members, forgets them when added back, and stays bounded', () => {
    const removed = new RemovedMembers();
    removed.observe([]);
    removed.observe(['n1', 'n2']);
    expect(removed.has('n2')).toBe(false);
    removed.observe(['n1']);
    expect(removed.has('n2')).toBe(true);
    // An unknown node is not a removed one: a lagging follower must hear from members added after its view.
    expect(removed.has('n7')).toBe(false);
    removed.observe(['n1', 'n2']);
    expect(removed.has('n2')).toBe(false);
    for (let i = 0; i < removedMembersMax + 10; i++) {
      removed.observe(['n1', `x${i}`]);
      removed.observe(['n1']);
    }
    expect(removed.has('x0')).toBe(false);
    expect(removed.has(`x${removedMembersMax + 9}`)).toBe(true);
  });
});
