// Errors raised while reading and validating a chaos scenario file.

export interface ScenarioErrorInit {
  /** The scenario file as the caller named it (the message prefix). */
  readonly file: string;
  /** 1-based; 0 when not known. */
  readonly line?: number;
  readonly column?: number;
  /** YAML path of the offending value, like `faults.events[1].scope`; '' for the whole file. */
  readonly path?: string;
  /** What is accepted there, like `one of leader, follower`. */
  readonly expected?: string;
  /** What was found, like `"majority"`; '' when not applicable. */
  readonly got?: string;
  /** The problem in words, when it is not an "expected X, got Y" one. */
  readonly detail?: string;
  readonly cause?: unknown;
}

function location(file: string, line: number, column: number): string {
  if (line <= 0) return file;
  return column > 0 ? `${file}:${line}:${column}` : `${file}:${line}`;
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
export class ScenarioError extends Error {
  override readonly name: string = 'ScenarioError';
  readonly file: string;
  /** 1-based; 0 when the problem concerns the whole file. */
  readonly line: number;
  /** 1-based; 0 when not known. */
  readonly column: number;
  readonly path: string;
  readonly expected: string;
  readonly got: string;

  constructor(init: ScenarioErrorInit) {
    const line = init.line ?? 0;
    const column = init.column ?? 0;
    const path = init.path ?? '';
    const expected = init.expected ?? '';
    const got = init.got ?? '';
    super(
      `${location(init.file, line, column)}: ${path === '' ? '' : `${path}: `}${describeProblem(init.detail, expected, got)}`,
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.file = init.file;
    this.line = line;
    this.column = column;
    this.path = path;
    this.expected = expected;
    this.got = got;
  }
}

/** At most this many problems are collected before validation stops. */
export const SCENARIO_ERRORS_MAX = 50;

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
    super({
      file: first.file,
      line: first.line,
      column: first.column,
      path: first.path,
      expected: first.expected,
      got: first.got,
    });
    this.errors = errors;
    this.truncated = truncated;
    const count = `${errors.length}${truncated ? '+' : ''} error${errors.length === 1 && !truncated ? '' : 's'}`;
    const lines = errors.map((e) => `  ${e.message}`);
    if (truncated) lines.push(`  (stopped after ${errors.length} errors)`);
    this.message = `invalid chaos scenario ${first.file} (${count}):\n${lines.join('\n')}`;
  }
}
