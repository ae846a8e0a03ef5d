// Errors raised while reading, validating and expanding a testudo.yaml.

import { printable } from '../common/printable.js';

/** Where in the spec file something is, 1-based (0 when not known). */
export interface SpecLocation {
  readonly line: number;
  readonly column: number;
}

export interface SpecErrorInit {
  /** The spec file as the user named it (used as the message prefix). */
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  /** Path of the offending field, like `suites[1].shards`; '' for the whole file. */
  readonly field?: string;
  /** What the field should have been, like `an integer from 1 to 1000`. */
  readonly expected?: string;
  /** What it was, like `"three"`; '' when not applicable. */
  readonly got?: string;
  /**
   * The problem in words, when it is not an "expected X, got Y" one (unknown
   * key, duplicated key, syntax error, missing file...).
   */
  readonly detail?: string;
  readonly cause?: unknown;
}

function location(file: string, line: number, column: number): string {
  if (line <= 0) return file;
  return column > 0 ? `${file}:${line}:${column}` : `${file}:${line}`;
}

/**
 * One problem in a spec, located in its file. The message reads like
 * `testudo.yaml:12:5: suites[1].shards: expected an integer from 1 to 1000, got "three"`.
 */
export class SpecError extends Error {
  override readonly name: string = 'SpecError';
  readonly file: string;
  /** 1-based; 0 when the problem concerns the whole file. */
  readonly line: number;
  /** 1-based; 0 when not known. */
  readonly column: number;
  readonly field: string;
  readonly expected: string;
  readonly got: string;

  constructor(init: SpecErrorInit) {
    const line = init.line ?? 0;
    const column = init.column ?? 0;
    const field = init.field ?? '';
    const expected = init.expected ?? '';
    const got = init.got ?? '';
    const what =
      init.detail ?? (got === '' ? `expected ${expected}` : `expected ${expected}, got ${got}`);
    // The message quotes the spec's own text: shown on a terminal, so escaped.
    super(
      printable(`${location(init.file, line, column)}: ${field === '' ? '' : `${field}: `}${what}`),
      init.cause === undefined ? undefined : { cause: init.cause },
    );
    this.file = init.file;
    this.line = line;
    this.column = column;
    this.field = field;
    this.expected = expected;
    this.got = got;
  }
}

/** At most this many errors are collected before validation stops. */
export const MAX_SPEC_ERRORS = 50;

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
    const count = `${errors.length}${truncated ? '+' : ''} error${errors.length === 1 && !truncated ? '' : 's'}`;
    const lines = errors.map((e) => `  ${e.message}`);
    if (truncated) lines.push(`  (stopped after ${errors.length} errors)`);
    this.message = `invalid spec ${printable(first.file)} (${count}):\n${lines.join('\n')}`;
  }
}
