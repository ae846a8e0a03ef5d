// Parsers for flag values shared by the commands. Each one throws a
// UsageError (exit 2) that names the flag and quotes the value it refused,
// so a bad value never reaches a client or a server as an exit-1 failure.

import { endpointProblem, endpointsMax } from '../client/endpoints.js';
import { UsageError } from './errors.js';

/** Characters of a refused value quoted back in a message. */
export const quotedValueCharsMax = 80;

/** `value` as a JSON string, cut to {@link quotedValueCharsMax} characters (control characters come out escaped). */
export function quoted(value: string): string {
  return JSON.stringify(value.length > quotedValueCharsMax ? `${value.slice(0, quotedValueCharsMax)}…` : value);
}

/**
 * A `host:port,…` list (`--coordinators`, `--endpoints`, TESTUDO_ENDPOINTS):
 * every entry a valid endpoint with a port in 1..65535, at most
 * `endpointsMax` of them, duplicates dropped, order kept. `source` names
 * where the value came from (the flag, or the environment variable).
 */
export function endpointListFlag(source: string, raw: string): string[] {
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (list.length === 0) throw new UsageError(`${source} must name at least one host:port (e.g. 127.0.0.1:7001), got ${quoted(raw)}`);
  if (list.length > endpointsMax) throw new UsageError(`${source} names ${list.length} endpoints; at most ${endpointsMax} are allowed`);
  for (const endpoint of list) {
    const problem = endpointProblem(endpoint);
    if (problem !== '') throw new UsageError(`${source}: ${problem}`);
  }
  return [...new Set(list)];
}

/**
 * A decimal integer in [min, max]. Stricter than Number(): no sign, no
 * exponent, no hex, no blanks ("" and " 2" are refused, not read as 0 and 2).
 */
export function integerFlag(flag: string, raw: string, min: number, max: number = Number.MAX_SAFE_INTEGER): number {
  if (!(Number.isSafeInteger(min) && Number.isSafeInteger(max) && min <= max)) throw new RangeError(`integerFlag: bad bounds ${min}..${max}`);
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : `an integer of at least ${min}`) : `an integer from ${min} to ${max}`;
    throw new UsageError(`${flag} must be ${range}, got ${quoted(raw)}`);
  }
  return n;
}

export function positiveIntFlag(flag: string, raw: string): number {
  return integerFlag(flag, raw, 1);
}

export function nonNegativeIntFlag(flag: string, raw: string): number {
  return integerFlag(flag, raw, 0);
}

/** A listen address `host:port`; port 0 (pick a free one) is allowed when `allowZero`. */
export function listenFlag(flag: string, raw: string, allowZero: boolean): { host: string; port: number } {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/.exec(raw);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65_535 || (port === 0 && !allowZero)) {
    throw new UsageError(`${flag} must be host:port with a port from ${allowZero ? 0 : 1} to 65535${allowZero ? ' (0 picks a free port)' : ''}, got ${quoted(raw)}`);
  }
  const host = match[1]!;
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
}

/** One `host:port` endpoint (port 1..65535). */
export function endpointFlag(flag: string, raw: string): string {
  const problem = endpointProblem(raw);
  if (problem !== '') throw new UsageError(`${flag}: ${problem}`);
  return raw;
}

/**
 * How many coordinators a command starts: `--replicas <n>`, or the old
 * spelling `--coordinators <n>` (a number; a note goes to `warn`). A
 * `--coordinators` that is not a number is returned as `list` (addresses
 * of a running cluster) for the commands that accept one.
 */
export function replicasFlag(
  options: { replicas?: string; coordinators?: string },
  bounds: { min: number; max: number; fallback: number },
  warn: (text: string) => void,
): { replicas: number; list: string | undefined } {
  const old = options.coordinators?.trim();
  const oldIsCount = old !== undefined && /^\d+$/.test(old);
  if (options.replicas !== undefined && oldIsCount) throw new UsageError('give --replicas only (--coordinators <n> is its old spelling)');
  if (options.replicas !== undefined) return { replicas: integerFlag('--replicas', options.replicas, bounds.min, bounds.max), list: oldIsCount ? undefined : options.coordinators };
  if (oldIsCount) {
    warn('testudo: --coordinators <n> is deprecated for a count; use --replicas <n> (--coordinators names addresses, host:port,…)\n');
    return { replicas: integerFlag('--coordinators', old, bounds.min, bounds.max), list: undefined };
  }
  return { replicas: bounds.fallback, list: options.coordinators };
}
