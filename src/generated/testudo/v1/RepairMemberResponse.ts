// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface RepairMemberResponse {
  'id'?: (string);
  /**
   * The leader had found the member's log went back (a reset of a member
   * that was not regressed is allowed and harmless).
   */
  'wasRegressed'?: (boolean);
  /**
   * The index the leader probes the member from after the reset.
   */
  'probeFrom'?: (number | string | Long);
  /**
   * Whether the member reached the commit index of the time of the reset
   * before the call returned.
   */
  'caughtUp'?: (boolean);
  'match'?: (number | string | Long);
}

export interface RepairMemberResponse__Output {
  'id': (string);
  /**
   * The leader had found the member's log went back (a reset of a member
   * that was not regressed is allowed and harmless).
   */
  'wasRegressed': (boolean);
  /**
   * The index the leader probes the member from after the reset.
   */
  'probeFrom': (number);
  /**
   * Whether the member reached the commit index of the time of the reset
   * before the call returned.
   */
  'caughtUp': (boolean);
  'match': (number);
}
