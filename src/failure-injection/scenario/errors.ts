// Errors raised while reading and validating a chaos scenario file.

import { YAML_PROBLEMS_MAX, YamlCheckError, summaryMessage, type YamlCheckErrorInit } from '../../common/yaml-check/index.js';

export interface ScenarioErrorInit extends YamlCheckErrorInit {
  /** The problem in words, when it is not an "expected X, got Y" one. */
  readonly detail?: string;
}

function describeProblem(detail: string | undefined, expected: string, got: string): string {
  if (detail !== undefined && detail !== '') return expected === '' ? detail : `${detail}; expected ${expected}`;
  if (expected === '') return 'invalid value';
  return got === '' ? `expected ${expected}` : `expected ${expected}, got ${got}`;
}

/**
 * One problem in a scenario file. The message reads like
 * `kill.yaml:14:39: faults.events[1].scope: "majority" is not a scope of kill; expected one of follower, leader, node, minority`.
 */
export class ScenarioError extends YamlCheckError {
  override readonly name: string = 'ScenarioError';

  constructor(init: ScenarioErrorInit) {
    super(init, describeProblem(init.detail, init.expected ?? '', init.got ?? ''), false);
  }
}

/** At most this many problems are collected before validation stops. */
export const SCENARIO_ERRORS_MAX = YAML_PROBLEMS_MAX;

/**
 * Every problem found in a scenario file (at most {@link SCENARIO_ERRORS_MAX}),
 * sorted by position. It is itself the first problem, so callers can catch
 * `ScenarioError` alone and still read `file`, `path` and `line`.
 */
export class ScenarioValidationError extends ScenarioError {
  override readonly name: string = 'ScenarioValidationError';
  readonly errors: readonly ScenarioError[];
  /** True when more problems existed than were collected. */
  readonly truncated: boolean;

  constructor(errors: readonly ScenarioError[], truncated = false) {
    const first = errors[0];
    if (first === undefined) throw new RangeError('ScenarioValidationError needs at least one error');
    const { file, line, column, path, expected, got } = first;
    super({ file, line, column, path, expected, got });
    this.errors = errors;
    this.truncated = truncated;
    this.message = summaryMessage(`invalid chaos scenario ${first.file}`, errors, truncated);
  }
}
