// The bounds and defaults of a chaos scenario file (parse.ts checks a scenario against them).

/** The limits a scenario must respect. */
export const SCENARIO_LIMITS = {
  fileBytesMax: 256 * 1024,
  nameLengthMax: 64,
  descriptionLengthMax: 4096,
  coordinatorCounts: [3, 5],
  workersMax: 16,
  slotsPerWorkerMax: 32,
  tasksMax: 5000,
  taskDurationMsMin: 1,
  taskDurationMsMax: 600_000,
  /** Explicit events, and events a random schedule may generate. */
  eventsMax: 1000,
  /** Latest time (after the workload starts) a fault may be scheduled at. */
  scheduleMsMax: 3_600_000,
  randomEveryMsMin: 1_000,
  seedOffsetMax: 0x7fff_ffff,
  readyWithinMsMax: 600_000,
  timeoutMsMin: 1_000,
  timeoutMsMax: 3_600_000,
} as const;

/** Defaults of the optional fields. */
export const SCENARIO_DEFAULTS = {
  coordinators: 3,
  workers: 3,
  slotsPerWorker: 2,
  adaptiveIntensity: false,
  readyWithinMs: 30_000,
  timeoutMs: 300_000,
} as const;

