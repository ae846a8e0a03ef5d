// Readers of plain values taken from YAML: each returns the value, or what
// was expected there (the caller locates and reports it). They decide what is
// accepted; the wording of "got ..." belongs to the caller.

import { didYouMean, describeValue } from './words.js';

/** A value refused: what was expected, and a sentence when "expected X, got Y" does not say it. */
export interface Refusal {
  readonly refused: true;
  readonly expected: string;
  readonly detail?: string;
}

export type Read<T> = { readonly refused: false; readonly value: T } | Refusal;

function accept<T>(value: T): Read<T> {
  return { refused: false, value };
}

function refuse(expected: string, detail?: string): Refusal {
  return detail === undefined ? { refused: true, expected } : { refused: true, expected, detail };
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An integer in [min, max]; a YAML bigint counts as its number. */
export function readInteger(value: unknown, min: number, max: number): Read<number> {
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max) return accept(n);
  return refuse(`an integer from ${min} to ${max}`);
}

export interface NumberBounds {
  readonly min: number;
  readonly max: number;
  /** `min` itself is not allowed. */
  readonly minExclusive?: boolean;
  readonly integer?: boolean;
}

/** A finite number within the bounds. */
export function readNumber(value: unknown, bounds: NumberBounds): Read<number> {
  const low = bounds.minExclusive === true ? `above ${bounds.min}` : `from ${bounds.min}`;
  const expected = `${bounds.integer === true ? 'an integer' : 'a number'} ${low} to ${bounds.max}`;
  if (typeof value !== 'number' || !Number.isFinite(value)) return refuse(expected);
  const tooLow = bounds.minExclusive === true ? value <= bounds.min : value < bounds.min;
  if (tooLow || value > bounds.max || (bounds.integer === true && !Number.isInteger(value))) return refuse(expected);
  return accept(value);
}

export function readBoolean(value: unknown): Read<boolean> {
  return typeof value === 'boolean' ? accept(value) : refuse('true or false');
}

export interface StringRules {
  /** Fewest characters; default 1. */
  readonly min?: number;
  /** Most characters; default 100,000. */
  readonly max?: number;
  readonly pattern?: RegExp;
  /** Default: `a (non-empty) string of at most <max> characters`. */
  readonly expected?: string;
  /** Accept NUL characters (refused by default: they cut C strings and commands). */
  readonly allowNul?: boolean;
}

export const STRING_LENGTH_MAX_DEFAULT = 100_000;

export function readString(value: unknown, rules: StringRules = {}): Read<string> {
  const min = rules.min ?? 1;
  const max = rules.max ?? STRING_LENGTH_MAX_DEFAULT;
  const expected = rules.expected ?? (min <= 0 ? `a string of at most ${max} characters` : `a non-empty string of at most ${max} characters`);
  if (typeof value !== 'string' || value.length < min || value.length > max) return refuse(expected);
  if (rules.pattern !== undefined && !rules.pattern.test(value)) return refuse(expected);
  if (rules.allowNul !== true && value.includes('\0')) return refuse(`${expected} without NUL characters`);
  return accept(value);
}

/** One of `allowed`; a near miss gets a "did you mean". `what` names the kind, like `fault type`. */
export function readEnum<T extends string>(value: unknown, allowed: readonly T[], what: string): Read<T> {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return accept(value as T);
  const detail =
    typeof value === 'string' ? `unknown ${what} "${value}"${didYouMean(value, allowed)}` : `expected ${what}, got ${describeValue(value)}`;
  return refuse(`one of ${allowed.join(', ')}`, detail);
}

/** A list with `min` to `max` items. */
export function readList(value: unknown, min: number, max: number, expected: string): Read<readonly unknown[]> {
  if (!Array.isArray(value) || value.length < min || value.length > max) return refuse(expected);
  return accept(value as readonly unknown[]);
}

/** A mapping (its keys are not checked here: see `unknownKeyDetail`). */
export function readRecord(value: unknown, expected: string): Read<Record<string, unknown>> {
  return isRecord(value) ? accept(value) : refuse(expected);
}

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * A duration in ms: an integer (ms) or a string like `250ms`, `1.5s`, `2m`,
 * `1h`. Undefined when it is neither or not a whole number of ms.
 */
export function parseDurationMs(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = DURATION_RE.exec(value.trim());
  if (m === null) return undefined;
  const ms = Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
  const whole = Math.round(ms);
  return Number.isSafeInteger(whole) && Math.abs(ms - whole) < 1e-6 ? whole : undefined;
}

/** A duration as the files write it: `250ms`, `5s`, `2m`, `1h`. */
export function formatDurationMs(ms: number): string {
  for (const [unit, factor] of [['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return `${ms}ms`;
}

/** A duration (see {@link parseDurationMs}) from `minMs` to `maxMs`. */
export function readDurationMs(value: unknown, minMs: number, maxMs: number): Read<number> {
  const ms = parseDurationMs(value);
  if (ms !== undefined && ms >= minMs && ms <= maxMs) return accept(ms);
  const range = `from ${formatDurationMs(minMs)} to ${formatDurationMs(maxMs)}`;
  return refuse(`a duration ${range}, like 250ms, 5s or 2m (or an integer number of ms)`);
}
