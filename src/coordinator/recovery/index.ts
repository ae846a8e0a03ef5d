// The pure core of failure handling: failure classes, the per-worker circuit
// breaker, its adaptive threshold and the five-level recovery ladder. No
// clock, no randomness, no I/O: the state machine calls these from apply.
// See docs/recovery.md.

export {
  faultClasses,
  faultClassDefaults,
  isFaultClass,
  feedsBreaker,
  classify,
  evidenceOf,
  evidenceCharsMax,
  infraFailureFrom,
  infraFailureOf,
  InfraFailure,
  SpawnError,
  SetupFailureError,
  CrashError,
  OutOfMemoryError,
  TimeoutError,
  MissingReportError,
  MalformedReportError,
  LostWorkerError,
  DeliveryFailureError,
} from './failure-classes.js';
export {
  defaultBreakerConfig,
  validateBreakerConfig,
  windowCallsMax,
  reasonCharsMax,
  newBreaker,
  openWaitMs,
  windowCalls,
  windowStats,
  recordOutcome,
  maybeHalfOpen,
  allowsAssignment,
  probesLeft,
  forceOpen,
  release,
  tripOnCrash,
  quarantineCooldownElapsed,
  disable,
  enable,
  failingNow,
  failingNowCalls,
  paceSlots,
  prefetchPerSlotMax,
  hedgeAfterFactorMax,
  slowPaceFactorMin,
  slowPaceFactorMax,
  spawnRetriesOf,
  paceOfCall,
  ladderConfigOf,
  thresholdConfigOf,
} from './breaker.js';
export { paceCallsUsed, paceCallsMin, paceHorizonMs, workerPace, slownessOf, slowReason, tailPrefersFaster, slowHedgeDue } from './slowness.js';
export type { Pace, Slowness } from './slowness.js';
export { ejectedWorkers, isOutlier, outlierFailuresMin, degradedSlots } from './ejection.js';
export { maxFaultIntensity } from './chaos-hook.js';
export { spawnRetriesMax } from '../../model/index.js';
export { adaptiveThreshold, defaultAdaptiveThresholdConfig, validateAdaptiveThresholdConfig, median } from './adaptive-threshold.js';
export {
  levelActions,
  defaultLadderConfig,
  validateLadderConfig,
  ladderStepsMax,
  newTaskLadder,
  emptyRecoveryHistory,
  expectedRecovery,
  decide,
  advance,
  diagnose,
  pendingRecovery,
  recordRecovery,
  recordMiss,
  holdWaitMs,
  lastWasHold,
} from './ladder.js';

export type { FaultClass, FailureClass, AttemptClassification, RecoveryLevel, FaultClassInfo, InfraFailureOptions } from './failure-classes.js';
export type {
  BreakerState,
  BreakerWindow,
  BreakerConfig,
  BreakerCall,
  Breaker,
  BreakerTransition,
  BreakerOutcome,
  BreakerStep,
  ThresholdInput,
  WindowStats,
} from './breaker.js';
export type { FaultIntensity } from './chaos-hook.js';
export type { EjectionCandidate } from './ejection.js';
export type { AdaptiveThresholdConfig, PeerStat, ThresholdDecision } from './adaptive-threshold.js';
export type {
  RecoveryAction,
  RecoveringLevel,
  LadderConfig,
  LadderFailure,
  LadderStep,
  TaskLadderState,
  LadderContext,
  Decision,
  RecoveryRecord,
  RecoveryHistory,
  ExpectedRecovery,
} from './ladder.js';
