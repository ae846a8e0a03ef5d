// Fault injection inside a worker, for chaos runs only (`testudo worker
// --chaos-hooks`; /chaos on the worker's HTTP server sets the rates).
//
// Every fault goes through the executor's real failure path, so the
// coordinator classifies it exactly as it would the real thing:
//   spawnFailRate  the attempt fails where spawn() would          → spawn-error
//   crashRate      SIGKILL to the attempt's process group          → crash
//   timeoutRate    the executor's own timeout fires early          → timeout
//   cpuShare       SIGSTOP/SIGCONT duty cycle on every running group (slower, no class)
// Crash and timeout strike a random 50..500 ms after the start. Draws come
// from a seeded generator (--chaos-seed), so a run's faults can be replayed.

import type { Logger } from 'pino';

import { chaosDefaults, type ChaosControl, type ChaosSchema } from '../common/chaos-endpoint.js';
import { createPrng } from '../common/rand.js';
import { killProcessGroup } from './executor.js';

export type WorkerChaosSettings = {
  /** Probability an attempt fails as a spawn error. */
  readonly spawnFailRate: number;
  /** Probability (after spawn) its process group is killed by SIGKILL. */
  readonly crashRate: number;
  /** Probability (after the two above) it is timed out. */
  readonly timeoutRate: number;
  /** Share of each duty-cycle period the attempts' process groups may run; 1 = never stopped. */
  readonly cpuShare: number;
};

const rate = { defaultValue: 0, expected: 'a number in [0, 1]', valid: (v: number) => v >= 0 && v <= 1 };

export const workerChaosSchema: ChaosSchema<WorkerChaosSettings> = {
  spawnFailRate: rate,
  crashRate: rate,
  timeoutRate: rate,
  cpuShare: { defaultValue: 1, expected: 'a number in (0, 1]', valid: (v) => v > 0 && v <= 1 },
};

/** One SIGSTOP/SIGCONT cycle when cpuShare < 1. */
export const cpuSharePeriodMs = 100;
/** Injected crashes and timeouts strike this long after the start, drawn uniformly. */
export const faultDelayMsMin = 50;
export const faultDelayMsMax = 500;
/** Process groups tracked at once; a worker runs at most 1024 slots. */
export const chaosGroupsMax = 4096;

export type AttemptFault = 'none' | 'spawn-error' | 'crash' | 'timeout';

/**
 * What the executor asks of the chaos hooks for one attempt: the fault drawn
 * for it when it started, and the calls that let the hooks reach its process
 * group.
 */
export interface AttemptChaos {
  readonly fault: AttemptFault;
  /** For 'crash' and 'timeout': how long after the start it strikes. */
  readonly delayMs: number;
  /** For 'spawn-error': the error text the attempt fails with instead of spawning. */
  readonly spawnError: string | null;
  /** For 'timeout': when the executor's timeout fires, instead of the task's own. */
  readonly timeoutAfterMs: number | null;
  /** The attempt's process group started (pgid = the shell's pid). */
  started(pgid: number): void;
  /** The attempt's shell exited: the group is let go (continued if stopped). Idempotent. */
  ended(): void;
  /** Whether the injected SIGKILL was sent (the 'crash' fault struck). */
  crashed(): boolean;
}

interface Group {
  /** SIGSTOP sent and no SIGCONT since. */
  stopped: boolean;
  crashTimer: NodeJS.Timeout | null;
}

export interface WorkerChaosHooksOptions {
  readonly seed: number;
  readonly logger: Logger;
  /** Default: `killProcessGroup`; tests observe signals through it. */
  readonly signalGroup?: (pgid: number, signal: NodeJS.Signals) => boolean;
}

/**
 * The worker's chaos hooks: the settings /chaos edits, the per-attempt draws
 * and the CPU duty cycle. A group is never left stopped: it is continued
 * when its attempt ends, when the settings change and on `stop()`.
 */
export class WorkerChaosHooks implements ChaosControl<WorkerChaosSettings> {
  readonly schema = workerChaosSchema;
  readonly seed: number;
  private current: WorkerChaosSettings = chaosDefaults(workerChaosSchema);
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly signalGroup: (pgid: number, signal: NodeJS.Signals) => boolean;
  private readonly groups = new Map<number, Group>();
  private cycleTimer: NodeJS.Timeout | null = null;
  private stoppedHooks = false;

  constructor(options: WorkerChaosHooksOptions) {
    if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffff_ffff) throw new RangeError(`chaos seed ${options.seed} is not a u32`);
    this.seed = options.seed;
    this.random = createPrng(options.seed);
    this.log = options.logger.child({ component: 'chaos-hooks' });
    this.signalGroup = options.signalGroup ?? killProcessGroup;
  }

  get(): WorkerChaosSettings {
    return this.current;
  }

  /** New settings apply to attempts started from now on; the duty cycle restarts at once. */
  replace(settings: WorkerChaosSettings): void {
    this.current = Object.freeze({ ...settings });
    this.log.info({ event: 'chaos-settings', ...this.current }, 'chaos settings changed');
    this.restartCycle();
  }

  /** Process groups being tracked (running attempts). */
  get trackedGroups(): number {
    return this.groups.size;
  }

  /** Continues every stopped group and injects nothing more (worker shutdown). Idempotent. */
  stop(): void {
    this.stoppedHooks = true;
    if (this.cycleTimer !== null) clearTimeout(this.cycleTimer);
    this.cycleTimer = null;
    for (const [pgid, group] of this.groups) {
      if (group.crashTimer !== null) clearTimeout(group.crashTimer);
      group.crashTimer = null;
      this.continueGroup(pgid, group);
    }
  }

  /** Draws the fault of an attempt starting now (four draws each, so one seed replays a run). */
  planAttempt(attemptId: string): AttemptChaos {
    const s = this.current;
    const [spawnDraw, crashDraw, timeoutDraw, delayDraw] = [this.random(), this.random(), this.random(), this.random()];
    const delayMs = faultDelayMsMin + Math.floor(delayDraw * (faultDelayMsMax - faultDelayMsMin + 1));
    const fault = this.stoppedHooks ? 'none' : pickFault(s, spawnDraw, crashDraw, timeoutDraw);
    if (fault !== 'none') this.log.info({ event: 'chaos-fault', attemptId, fault, delayMs: fault === 'spawn-error' ? 0 : delayMs }, 'chaos hooks inject a fault');
    return this.attemptChaos(fault, delayMs, s);
  }

  private attemptChaos(fault: AttemptFault, delayMs: number, s: WorkerChaosSettings): AttemptChaos {
    let pgid: number | null = null;
    let crashed = false;
    return {
      fault,
      delayMs,
      spawnError: fault === 'spawn-error' ? `spawn failure injected by chaos hooks (spawnFailRate ${s.spawnFailRate}); the command was not started` : null,
      timeoutAfterMs: fault === 'timeout' ? delayMs : null,
      started: (id) => {
        if (pgid !== null || this.stoppedHooks) return;
        pgid = id;
        const crash = fault === 'crash' ? () => (crashed = this.signalGroup(id, 'SIGKILL')) : null;
        this.track(id, crash, delayMs);
      },
      ended: () => {
        if (pgid !== null) this.untrack(pgid);
        pgid = null;
      },
      crashed: () => crashed,
    };
  }

  private track(pgid: number, crash: (() => void) | null, delayMs: number): void {
    if (this.groups.size >= chaosGroupsMax) {
      this.log.warn({ pgid, tracked: this.groups.size }, 'too many process groups; this one gets no chaos');
      return;
    }
    const group: Group = { stopped: false, crashTimer: null };
    if (crash !== null) {
      group.crashTimer = setTimeout(() => {
        group.crashTimer = null;
        // Only while the attempt runs: an ended group's pid may be reused.
        if (this.groups.get(pgid) === group) crash();
      }, delayMs);
    }
    this.groups.set(pgid, group);
    if (this.cycleTimer === null) this.restartCycle();
  }

  private untrack(pgid: number): void {
    const group = this.groups.get(pgid);
    if (group === undefined) return;
    if (group.crashTimer !== null) clearTimeout(group.crashTimer);
    this.continueGroup(pgid, group);
    this.groups.delete(pgid);
    if (this.groups.size === 0 && this.cycleTimer !== null) {
      clearTimeout(this.cycleTimer);
      this.cycleTimer = null;
    }
  }

  /** Continues every group and, when cpuShare < 1 and groups run, starts the cycle with a stop phase. */
  private restartCycle(): void {
    if (this.cycleTimer !== null) clearTimeout(this.cycleTimer);
    this.cycleTimer = null;
    for (const [pgid, group] of this.groups) this.continueGroup(pgid, group);
    const stopMs = Math.round((1 - this.current.cpuShare) * cpuSharePeriodMs);
    if (this.stoppedHooks || stopMs <= 0 || this.groups.size === 0) return;
    // At least 1 ms of running per period, so a group always gets continued.
    const runMs = Math.max(1, cpuSharePeriodMs - stopMs);
    const stopPhase = (): void => {
      for (const [pgid, group] of this.groups) {
        if (this.signalGroup(pgid, 'SIGSTOP')) group.stopped = true;
      }
      this.cycleTimer = setTimeout(runPhase, stopMs);
      this.cycleTimer.unref();
    };
    const runPhase = (): void => {
      for (const [pgid, group] of this.groups) this.continueGroup(pgid, group);
      this.cycleTimer = this.groups.size === 0 ? null : setTimeout(stopPhase, runMs);
      this.cycleTimer?.unref();
    };
    stopPhase();
  }

  private continueGroup(pgid: number, group: Group): void {
    if (!group.stopped) return;
    this.signalGroup(pgid, 'SIGCONT');
    group.stopped = false;
  }
}

/** Each fault in turn with its rate's probability, given draws in [0, 1): a rate of 1 always strikes, 0 never. */
function pickFault(s: WorkerChaosSettings, spawnDraw: number, crashDraw: number, timeoutDraw: number): AttemptFault {
  if (spawnDraw < s.spawnFailRate) return 'spawn-error';
  if (crashDraw < s.crashRate) return 'crash';
  if (timeoutDraw < s.timeoutRate) return 'timeout';
  return 'none';
}

/** A seed derived from the time, for `--chaos-seed` left unset (logged, so the run can be replayed). */
export function chaosSeedFromTime(nowMs: number = Date.now()): number {
  return nowMs % 0x1_0000_0000;
}
