// The error base shared by the YAML file parsers (the run spec, chaos
// scenarios): one located problem, and the collector that gathers them.

import { printable } from '../printable.js';

/** At most this many problems are collected before a check stops. */
export const YAML_PROBLEMS_MAX = 50;

export interface YamlCheckErrorInit {
  /** The file as the user named it (the message prefix). */
  readonly file: string;
  /** 1-based; 0 when the problem concerns the whole file. */
  readonly line?: number;
  /** 1-based; 0 when not known. */
  readonly column?: number;
  /** Path of the offending value, like `suites[1].shards`; '' for the whole file. */
  readonly path?: string;
  /** What is accepted there, like `an integer from 1 to 1000`. */
  readonly expected?: string;
  /** What was found, like `"three"`; '' when not applicable. */
  readonly got?: string;
  readonly cause?: unknown;
}

/** `file`, `file:line` or `file:line:column`, as far as the position is known. */
export function locationText(file: string, line: number, column: number): string {
  if (line <= 0) return file;
  return column > 0 ? `${file}:${line}:${column}` : `${file}:${line}`;
}

/**
 * One problem in a YAML file, located. The message reads
 * `<file>:<line>:<column>: <path>: <problem>`; each parser words `problem`
 * its own way and passes it in. With `escape`, control characters quoted from
 * the file are shown escaped (the message goes to a terminal).
 */
export class YamlCheckError extends Error {
  override readonly name: string = 'YamlCheckError';
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly path: string;
  readonly expected: string;
  readonly got: string;

  constructor(init: YamlCheckErrorInit, problem: string, escape: boolean) {
    const line = init.line ?? 0;
    const column = init.column ?? 0;
    const path = init.path ?? '';
    const message = `${locationText(init.file, line, column)}: ${path === '' ? '' : `${path}: `}${problem}`;
    super(escape ? printable(message) : message, init.cause === undefined ? undefined : { cause: init.cause });
    this.file = init.file;
    this.line = line;
    this.column = column;
    this.path = path;
    this.expected = init.expected ?? '';
    this.got = init.got ?? '';
  }
}

/** `<title> (3 errors):` followed by one indented line per problem. */
export function summaryMessage(title: string, errors: readonly YamlCheckError[], truncated: boolean): string {
  const count = `${errors.length}${truncated ? '+' : ''} error${errors.length === 1 && !truncated ? '' : 's'}`;
  const lines = errors.map((e) => `  ${e.message}`);
  if (truncated) lines.push(`  (stopped after ${errors.length} errors)`);
  return `${title} (${count}):\n${lines.join('\n')}`;
}

/** Thrown inside a check to stop it once {@link YAML_PROBLEMS_MAX} problems are collected. */
export class TooManyProblems extends Error {
  override readonly name = 'TooManyProblems';
}

/** The problems found in one file, in the order found, at most {@link YAML_PROBLEMS_MAX}. */
export class ProblemList<E extends YamlCheckError> {
  readonly errors: E[] = [];
  /** True when more problems existed than were collected. */
  truncated = false;

  /** Adds one; throws {@link TooManyProblems} when the list is full. */
  push(error: E): void {
    if (this.errors.length >= YAML_PROBLEMS_MAX) {
      this.truncated = true;
      throw new TooManyProblems();
    }
    this.errors.push(error);
  }

  /** Runs a check; undefined when it stopped because the list was full. */
  run<T>(check: () => T): T | undefined {
    try {
      return check();
    } catch (error) {
      if (error instanceof TooManyProblems) return undefined;
      throw error;
    }
  }

  /** By position (line, then column); problems at the same place keep the order found. */
  sorted(): E[] {
    return this.errors
      .map((error, i) => ({ error, i }))
      .sort((a, b) => a.error.line - b.error.line || a.error.column - b.error.column || a.i - b.i)
      .map((x) => x.error);
  }
}
