// Original file: proto/testudo.proto

import type { FollowerProgress as _testudo_v1_FollowerProgress, FollowerProgress__Output as _testudo_v1_FollowerProgress__Output } from '../../testudo/v1/FollowerProgress.js';
import type { Long } from '@grpc/proto-loader';

export interface MemberStatus {
  'id'?: (string);
  'address'?: (string);
  /**
   * follower | pre-candidate | candidate | leader | unreachable
   */
  'role'?: (string);
  'term'?: (number | string | Long);
  'commitIndex'?: (number | string | Long);
  'appliedIndex'?: (number | string | Long);
  'lastIndex'?: (number | string | Long);
  'leaderId'?: (string);
  /**
   * Entries the member trails the leader's last index by, as seen by the
   * leader (0 for the leader itself).
   */
  'lag'?: (number | string | Long);
  'kind'?: (string);
  'reachable'?: (boolean);
  /**
   * Why the member could not be asked (empty when reachable).
   */
  'error'?: (string);
  'version'?: (string);
  'snapshotIndex'?: (number | string | Long);
  'firstIndex'?: (number | string | Long);
  'clusterId'?: (string);
  /**
   * The member's own readiness (its /readyz) and, when not ready, why.
   */
  'ready'?: (boolean);
  'notReadyReason'?: (string);
  /**
   * Why the member has not caught up (empty when it has): filled in by the
   * node serving Cluster.Status from the member's status and the leader's
   * progress, e.g. that its log went back and how to repair it.
   */
  'lagReason'?: (string);
  /**
   * Leader only: its replication progress for every member.
   */
  'progress'?: (_testudo_v1_FollowerProgress)[];
}

export interface MemberStatus__Output {
  'id': (string);
  'address': (string);
  /**
   * follower | pre-candidate | candidate | leader | unreachable
   */
  'role': (string);
  'term': (number);
  'commitIndex': (number);
  'appliedIndex': (number);
  'lastIndex': (number);
  'leaderId': (string);
  /**
   * Entries the member trails the leader's last index by, as seen by the
   * leader (0 for the leader itself).
   */
  'lag': (number);
  'kind': (string);
  'reachable': (boolean);
  /**
   * Why the member could not be asked (empty when reachable).
   */
  'error': (string);
  'version': (string);
  'snapshotIndex': (number);
  'firstIndex': (number);
  'clusterId': (string);
  /**
   * The member's own readiness (its /readyz) and, when not ready, why.
   */
  'ready': (boolean);
  'notReadyReason': (string);
  /**
   * Why the member has not caught up (empty when it has): filled in by the
   * node serving Cluster.Status from the member's status and the leader's
   * progress, e.g. that its log went back and how to repair it.
   */
  'lagReason': (string);
  /**
   * Leader only: its replication progress for every member.
   */
  'progress': (_testudo_v1_FollowerProgress__Output)[];
}
