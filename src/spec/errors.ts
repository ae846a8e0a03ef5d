// Errors raised while reading, validating and expanding a testudo.yaml.

import { printable } from '../common/printable.js';
import { YAML_PROBLEMS_MAX, YamlCheckError, summaryMessage, type YamlCheckErrorInit, type YamlPosition } from '../common/yaml-check/index.js';

/** Where in the spec file something is, 1-based (0 when not known). */
export type SpecLocation = YamlPosition;

export interface SpecErrorInit extends Omit<YamlCheckErrorInit, 'path'> {
  /** Path of the offending field, like `suites[1].shards`; '' for the whole file. */
  readonly field?: string;
  /**
   * The problem in words, when it is not an "expected X, got Y" one (unknown
   * key, duplicated key, syntax error, missing file...).
   */
  readonly detail?: string;
}

function describeProblem(init: SpecErrorInit): string {
  if (init.detail !== undefined) return init.detail;
  const expected = init.expected ?? '';
  const got = init.got ?? '';
  return got === '' ? `expected ${expected}` : `expected ${expected}, got ${got}`;
}

/**
 * One problem in a spec, located in its file. The message reads like
 * `testudo.yaml:12:5: suites[1].shards: expected an integer from 1 to 1000, got "three"`.
 * It quotes the spec's own text and is shown on a terminal, so it is escaped.
 */
export class SpecError extends YamlCheckError {
  override readonly name: string = 'SpecError';
  /** The same as `path`: the name spec callers know it by. */
  readonly field: string;

  constructor(init: SpecErrorInit) {
    super({ ...init, path: init.field ?? '' }, describeProblem(init), true);
    this.field = this.path;
  }
}

/** At most this many errors are collected before validation stops. */
export const MAX_SPEC_ERRORS = YAML_PROBLEMS_MAX;

/**
 * Every problem found in a spec (at most {@link MAX_SPEC_ERRORS}). It is
 * itself a {@link SpecError} located at the first problem, so callers can
 * catch `SpecError` alone.
 */
export class SpecValidationError extends SpecError {
  override readonly name: string = 'SpecValidationError';
  readonly errors: readonly SpecError[];
  /** True when more problems existed than were collected. */
  readonly truncated: boolean;

  constructor(errors: readonly SpecError[], truncated = false) {
    const first = errors[0];
    if (first === undefined) throw new RangeError('SpecValidationError needs at least one error');
    super({
      file: first.file,
      line: first.line,
      column: first.column,
      field: first.field,
      expected: first.expected,
      got: first.got,
      detail: '',
    });
    this.errors = errors;
    this.truncated = truncated;
    this.message = summaryMessage(`invalid spec ${printable(first.file)}`, errors, truncated);
  }
}
