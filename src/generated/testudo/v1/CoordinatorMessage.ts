// Original file: proto/testudo.proto

import type { SessionWelcome as _testudo_v1_SessionWelcome, SessionWelcome__Output as _testudo_v1_SessionWelcome__Output } from '../../testudo/v1/SessionWelcome.js';
import type { NotLeader as _testudo_v1_NotLeader, NotLeader__Output as _testudo_v1_NotLeader__Output } from '../../testudo/v1/NotLeader.js';
import type { AssignAttempts as _testudo_v1_AssignAttempts, AssignAttempts__Output as _testudo_v1_AssignAttempts__Output } from '../../testudo/v1/AssignAttempts.js';
import type { CancelAttempts as _testudo_v1_CancelAttempts, CancelAttempts__Output as _testudo_v1_CancelAttempts__Output } from '../../testudo/v1/CancelAttempts.js';
import type { ResultsCommitted as _testudo_v1_ResultsCommitted, ResultsCommitted__Output as _testudo_v1_ResultsCommitted__Output } from '../../testudo/v1/ResultsCommitted.js';
import type { HeartbeatAck as _testudo_v1_HeartbeatAck, HeartbeatAck__Output as _testudo_v1_HeartbeatAck__Output } from '../../testudo/v1/HeartbeatAck.js';
import type { ResetWorker as _testudo_v1_ResetWorker, ResetWorker__Output as _testudo_v1_ResetWorker__Output } from '../../testudo/v1/ResetWorker.js';

export interface CoordinatorMessage {
  'welcome'?: (_testudo_v1_SessionWelcome | null);
  'notLeader'?: (_testudo_v1_NotLeader | null);
  'assign'?: (_testudo_v1_AssignAttempts | null);
  'cancel'?: (_testudo_v1_CancelAttempts | null);
  'committed'?: (_testudo_v1_ResultsCommitted | null);
  'heartbeatAck'?: (_testudo_v1_HeartbeatAck | null);
  'reset'?: (_testudo_v1_ResetWorker | null);
  'body'?: "welcome"|"notLeader"|"assign"|"cancel"|"committed"|"heartbeatAck"|"reset";
}

export interface CoordinatorMessage__Output {
  'welcome'?: (_testudo_v1_SessionWelcome__Output | null);
  'notLeader'?: (_testudo_v1_NotLeader__Output | null);
  'assign'?: (_testudo_v1_AssignAttempts__Output | null);
  'cancel'?: (_testudo_v1_CancelAttempts__Output | null);
  'committed'?: (_testudo_v1_ResultsCommitted__Output | null);
  'heartbeatAck'?: (_testudo_v1_HeartbeatAck__Output | null);
  'reset'?: (_testudo_v1_ResetWorker__Output | null);
  'body'?: "welcome"|"notLeader"|"assign"|"cancel"|"committed"|"heartbeatAck"|"reset";
}
