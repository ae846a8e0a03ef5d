// Chaos scenario files (chaos/scenarios/*.yaml): parse and validate them,
// turn their faults into a seeded schedule, and build their synthetic workload.

export { ScenarioError, ScenarioValidationError, SCENARIO_ERRORS_MAX } from './errors.js';
export {
  parseScenario,
  loadScenario,
  parseDurationMs,
  formatDurationMs,
  faultParamKeys,
  SCENARIO_LIMITS,
  SCENARIO_DEFAULTS,
  PARAM_BOUNDS,
} from './parse.js';
export { faultSchedule, randomFaultEvents, scheduleEndMs, RANDOM_JITTER_SHARE } from './schedule.js';
export {
  syntheticTaskDurations,
  syntheticRunSpec,
  syntheticTestName,
  syntheticTestProgramPath,
  TASK_DURATION_MS_MIN,
  TASK_DURATION_MS_MAX,
  NORMAL_P95_Z,
  BUSY_FRACTION_DEFAULT,
} from './workload.js';

export type { ScenarioErrorInit } from './errors.js';
export type { ParamBound, FaultParamKey } from './parse.js';
export type {
  Scenario,
  ScenarioWorkload,
  ScenarioFaults,
  ScenarioChecks,
  ClusterShape,
  RandomFaults,
  SyntheticWorkload,
  TaskDuration,
  TaskDistribution,
} from './types.js';
export type { SyntheticRunSpec, SyntheticRunSpecOptions, SyntheticSpecDocument, SyntheticSuiteDocument } from './workload.js';
