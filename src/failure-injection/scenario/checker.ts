// The collector of located problems that every part of a scenario's parse reports to.

import type { Document, LineCounter } from 'yaml';
import {
  ProblemList,
  describeValue,
  formatPath,
  isRecord,
  nodeAtPath,
  nodePosition,
  readBoolean,
  readDurationMs,
  readEnum,
  readInteger,
  unknownKeyDetail,
  type PathSegment,
  type Read,
} from '../../common/yaml-check/index.js';
import { ScenarioError } from './errors.js';

export type YamlPath = readonly PathSegment[];

export interface Problem {
  readonly expected?: string;
  readonly got?: string;
  readonly detail?: string;
}

/** Collects located problems; validation runs on plain values, positions come from the YAML nodes. */
export class Checker {
  readonly problems = new ProblemList<ScenarioError>();

  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  fail(path: YamlPath, problem: Problem, onKey = false): undefined {
    const position = nodePosition(this.lines, nodeAtPath(this.doc, path, onKey));
    this.problems.push(new ScenarioError({ file: this.file, ...position, path: formatPath(path), ...problem }));
    return undefined;
  }

  /** "expected X, got <value>" at `path`; returns undefined for `return c.expected(...)`. */
  expected(path: YamlPath, value: unknown, expected: string): undefined {
    return this.fail(path, { expected, got: describeValue(value) });
  }

  /** The value read, or undefined with the refusal reported at `path`. */
  take<T>(path: YamlPath, value: unknown, read: Read<T>): T | undefined {
    if (!read.refused) return read.value;
    if (read.detail === undefined) return this.expected(path, value, read.expected);
    return this.fail(path, { detail: read.detail, expected: read.expected, got: describeValue(value) });
  }

  /**
   * The one key of a pair of alternatives (`keys`) that `record` at `path`
   * gives; reports a problem naming `none` or `both` and returns undefined
   * when it gives neither or both.
   */
  exactlyOneKey<K extends string>(path: YamlPath, record: Record<string, unknown>, keys: readonly [K, K], none: string, both: string): K | undefined {
    const given = keys.filter((key) => record[key] !== undefined);
    if (given.length === 1) return given[0];
    return this.fail(path, { detail: given.length === 0 ? none : both, expected: `exactly one of ${keys.join(', ')}` });
  }

  /** The value as a mapping; unknown keys are reported (and left in, unread). */
  record(path: YamlPath, value: unknown, known: readonly string[]): Record<string, unknown> | undefined {
    if (!isRecord(value)) return this.expected(path, value, `a mapping with keys ${known.join(', ')}`);
    for (const key of Object.keys(value)) {
      if (known.includes(key)) continue;
      this.fail([...path, key], { detail: unknownKeyDetail(key, known, false), expected: `one of ${known.join(', ')}` }, true);
    }
    return value;
  }

  /** `key` of a mapping that must have it. */
  required(path: YamlPath, object: Record<string, unknown>, key: string, expected: string): unknown {
    if (object[key] !== undefined) return object[key];
    return this.fail([...path, key], { detail: `missing required key "${key}"`, expected });
  }

  integer(path: YamlPath, value: unknown, min: number, max: number): number | undefined {
    return this.take(path, value, readInteger(value, min, max));
  }

  durationMs(path: YamlPath, value: unknown, minMs: number, maxMs: number): number | undefined {
    return this.take(path, value, readDurationMs(value, minMs, maxMs));
  }

  boolean(path: YamlPath, value: unknown): boolean | undefined {
    return this.take(path, value, readBoolean(value));
  }

  oneOf<T extends string>(path: YamlPath, value: unknown, allowed: readonly T[], what: string): T | undefined {
    return this.take(path, value, readEnum(value, allowed, what));
  }

  /** A non-empty list of unique values from `allowed`. */
  subset<T extends string>(path: YamlPath, value: unknown, allowed: readonly T[], what: string): T[] | undefined {
    if (!Array.isArray(value) || value.length === 0) return this.expected(path, value, `a non-empty list from ${allowed.join(', ')}`);
    const out: T[] = [];
    let ok = true;
    value.forEach((item: unknown, i) => {
      const one = this.oneOf([...path, i], item, allowed, what);
      if (one === undefined) ok = false;
      else if (out.includes(one)) {
        this.fail([...path, i], { detail: `"${one}" is listed twice`, expected: `each ${what} at most once` });
        ok = false;
      } else out.push(one);
    });
    return ok ? out : undefined;
  }
}

