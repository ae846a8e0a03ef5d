import { deflateRawSync, inflateRawSync } from 'node:zlib';

import { SnapshotDecodeError } from '../codec.js';
import { defaultBreakerConfig, emptyRecoveryHistory, validateBreakerConfig, type BreakerConfig, type RecoveryHistory } from '../recovery/index.js';
import { orchJsonBytesMax } from './commands.js';
import { FlakeHistory, TimingHistory } from './history.js';
import { orchestratorFormatVersion, type RunRec, type SnapshotState, type TaskRec, type WorkerRec } from './records.js';
import { upgradeFromVersion1 } from './worker-health.js';

/**
 * The orchestrator's replicated data as one object, and its snapshot form:
 * deflated JSON of `SnapshotState` (records.ts), with the attempt index
 * rebuilt on decode. Pure: no clock, no randomness. The Orchestrator class
 * swaps its data for a decoded one whole (state.ts, `replace`), so a restore
 * either installs everything or nothing.
 */
export interface OrchestratorData {
  readonly workers: Map<string, WorkerRec>;
  readonly runs: Map<string, RunRec>;
  readonly tasks: Map<string, TaskRec>;
  /** attemptId → taskId. */
  readonly attempts: Map<string, string>;
  readonly timings: TimingHistory;
  readonly flakes: FlakeHistory;
  readonly nextSeq: number;
  readonly recovery: RecoveryHistory;
  readonly breakerSettings: BreakerConfig;
}

/** The data of a new cluster. */
export function emptyData(): OrchestratorData {
  return {
    workers: new Map(),
    runs: new Map(),
    tasks: new Map(),
    attempts: new Map(),
    timings: new TimingHistory(),
    flakes: new FlakeHistory(),
    nextSeq: 1,
    recovery: emptyRecoveryHistory(),
    breakerSettings: defaultBreakerConfig,
  };
}

/** True for the data of a new cluster, whose snapshot is empty. */
function isEmpty(d: OrchestratorData): boolean {
  // nextSeq is state too: an emptied machine whose counter moved is not the empty state.
  const noHistory = Object.keys(d.recovery.byClass).length === 0 && d.breakerSettings === defaultBreakerConfig;
  return d.workers.size === 0 && d.runs.size === 0 && d.timings.size === 0 && d.flakes.size === 0 && d.nextSeq === 1 && noHistory;
}

/** The snapshot bytes of the data (empty for a new cluster). */
export function encodeData(d: OrchestratorData): Uint8Array {
  if (isEmpty(d)) return new Uint8Array(0);
  const state = {
    version: orchestratorFormatVersion,
    nextSeq: d.nextSeq,
    workers: [...d.workers.values()],
    runs: [...d.runs.values()].map((run) => ({ ...run, tasks: run.taskIds.map((id) => d.tasks.get(id)!) })),
    timings: d.timings.toJSON(),
    flakes: d.flakes.toJSON(),
    recovery: d.recovery,
    breakerConfig: d.breakerSettings,
  };
  return deflateRawSync(Buffer.from(JSON.stringify(state), 'utf8'));
}

/** The data in snapshot bytes; SnapshotDecodeError when they do not decode or are malformed. */
export function decodeData(bytes: Uint8Array): OrchestratorData {
  if (bytes.byteLength === 0) return emptyData();
  let state: SnapshotState;
  try {
    state = JSON.parse(inflateRawSync(bytes, { maxOutputLength: orchJsonBytesMax * 16 }).toString('utf8')) as SnapshotState;
  } catch (error) {
    throw new SnapshotDecodeError(`orchestrator state does not decode: ${(error as Error).message}`, { cause: error });
  }
  if (typeof state !== 'object' || state === null || Array.isArray(state)) throw new SnapshotDecodeError('orchestrator state is not an object');
  if (state.version !== orchestratorFormatVersion && state.version !== 1) {
    throw new SnapshotDecodeError(`orchestrator state version ${String(state.version)}; this build reads 1 and ${orchestratorFormatVersion}`);
  }
  try {
    if (state.version === 1) upgradeFromVersion1(state);
    const runs = new Map<string, RunRec>();
    const tasks = new Map<string, TaskRec>();
    const attempts = new Map<string, string>();
    for (const { tasks: runTasks, ...run } of state.runs) {
      runs.set(run.runId, run);
      for (const task of runTasks) {
        tasks.set(task.taskId, task);
        for (const attempt of task.attempts) attempts.set(attempt.attemptId, task.taskId);
      }
    }
    // Settings added since a snapshot was written take their defaults (before adaptiveRecovery existed it was on).
    const breakerSettings: BreakerConfig = { ...defaultBreakerConfig, ...state.breakerConfig };
    validateBreakerConfig(breakerSettings);
    return {
      workers: new Map(state.workers.map((w) => [w.workerId, w])),
      runs,
      tasks,
      attempts,
      timings: TimingHistory.fromJSON(state.timings),
      flakes: FlakeHistory.fromJSON(state.flakes),
      nextSeq: state.nextSeq,
      recovery: state.recovery,
      breakerSettings,
    };
  } catch (error) {
    throw new SnapshotDecodeError(`orchestrator state is malformed: ${(error as Error).message}`, { cause: error });
  }
}
