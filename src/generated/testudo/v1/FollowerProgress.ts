// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The leader's view of one member's replication (docs/raft.md).
 */
export interface FollowerProgress {
  'id'?: (string);
  'match'?: (number | string | Long);
  'next'?: (number | string | Long);
  /**
   * probe | replicate | snapshot
   */
  'state'?: (string);
  /**
   * The member's log went back below what it had acknowledged: the leader
   * cannot catch it up until Cluster.RepairMember resets its progress.
   */
  'regressed'?: (boolean);
  /**
   * When regressed: what it had acknowledged, and where its log now ends.
   */
  'regressedMatch'?: (number | string | Long);
  'followerLastIndex'?: (number | string | Long);
}

/**
 * The leader's view of one member's replication (docs/raft.md).
 */
export interface FollowerProgress__Output {
  'id': (string);
  'match': (number);
  'next': (number);
  /**
   * probe | replicate | snapshot
   */
  'state': (string);
  /**
   * The member's log went back below what it had acknowledged: the leader
   * cannot catch it up until Cluster.RepairMember resets its progress.
   */
  'regressed': (boolean);
  /**
   * When regressed: what it had acknowledged, and where its log now ends.
   */
  'regressedMatch': (number);
  'followerLastIndex': (number);
}
