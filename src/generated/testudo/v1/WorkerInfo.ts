// Original file: proto/testudo.proto

import type { Long } from '@grpc/proto-loader';

export interface WorkerInfo {
  'workerId'?: (string);
  'name'?: (string);
  /**
   * active | draining | lost
   */
  'state'?: (string);
  'slots'?: (number);
  'running'?: (string)[];
  'labels'?: ({[key: string]: string});
  'cpus'?: (number);
  'memoryMb'?: (number);
  'tools'?: (string)[];
  'httpAddress'?: (string);
  /**
   * Has a session with the leader now.
   */
  'connected'?: (boolean);
  'registeredAtMs'?: (number | string | Long);
  /**
   * closed | open | half-open | forced-open (quarantined) | disabled
   */
  'breakerState'?: (string);
  'breakerReason'?: (string);
  /**
   * Cleaning its work dir and rerunning setup (recovery level 3).
   */
  'resetting'?: (boolean);
  /**
   * When the breaker entered its state (the proposing leader's clock, ms since the epoch).
   */
  'breakerSinceMs'?: (number | string | Long);
  /**
   * Milliseconds since the leader last heard from the worker (a heartbeat or any
   * session message), as the answering leader measures it; -1 when it has not
   * heard from it since it became leader.
   */
  'lastHeartbeatAgeMs'?: (number | string | Long);
  /**
   * How much of its capacity the scheduler uses now, as recovery weighs it:
   * full | probing (half-open: a few probe attempts) | one-at-a-time (an
   * outlier, or open past the ejection cap) | paced (its last attempts all
   * failed: one at a time, spaced) | slow (its attempts take far longer than
   * its peers': every slot, but no prefetch and no tail work while faster
   * slots free in time) | out (ejected, quarantined, resetting, draining or
   * lost). The reason says which rule and its numbers.
   */
  'service'?: (string);
  'serviceReason'?: (string);
}

export interface WorkerInfo__Output {
  'workerId': (string);
  'name': (string);
  /**
   * active | draining | lost
   */
  'state': (string);
  'slots': (number);
  'running': (string)[];
  'labels': ({[key: string]: string});
  'cpus': (number);
  'memoryMb': (number);
  'tools': (string)[];
  'httpAddress': (string);
  /**
   * Has a session with the leader now.
   */
  'connected': (boolean);
  'registeredAtMs': (number);
  /**
   * closed | open | half-open | forced-open (quarantined) | disabled
   */
  'breakerState': (string);
  'breakerReason': (string);
  /**
   * Cleaning its work dir and rerunning setup (recovery level 3).
   */
  'resetting': (boolean);
  /**
   * When the breaker entered its state (the proposing leader's clock, ms since the epoch).
   */
  'breakerSinceMs': (number);
  /**
   * Milliseconds since the leader last heard from the worker (a heartbeat or any
   * session message), as the answering leader measures it; -1 when it has not
   * heard from it since it became leader.
   */
  'lastHeartbeatAgeMs': (number);
  /**
   * How much of its capacity the scheduler uses now, as recovery weighs it:
   * full | probing (half-open: a few probe attempts) | one-at-a-time (an
   * outlier, or open past the ejection cap) | paced (its last attempts all
   * failed: one at a time, spaced) | slow (its attempts take far longer than
   * its peers': every slot, but no prefetch and no tail work while faster
   * slots free in time) | out (ejected, quarantined, resetting, draining or
   * lost). The reason says which rule and its numbers.
   */
  'service': (string);
  'serviceReason': (string);
}
