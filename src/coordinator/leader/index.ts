// What only the leader does: worker sessions, result commit, the schedule
// loop and housekeeping, wired by `Leader`. See docs/architecture.md.

export { Leader } from './leader.js';
export { sessionSettingsDefault, leaderProposal } from './host.js';
export { sessionQueueMax } from './session-table.js';
export { leaderHintWaitMs, leaderHintPollMs } from './session-protocol.js';
export { resultBatchMax, resultBatchesInflightMax, pendingResultsMax, resultRetryDelayMs } from './result-commit.js';
export { scheduleTickMs } from './schedule-loop.js';
export { unschedulableBatchMax, pruneIntervalMs } from './housekeeping.js';

export type { LeaderRole } from './leader.js';
export type { LeaderHost, SessionSettings } from './host.js';
export type { SchedulePhase } from './schedule-loop.js';
