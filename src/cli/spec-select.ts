// `testudo run --suite NAME --exclude-suite NAME --set key=value`: pick part
// of a parsed spec and override some of its fields before it is expanded.
// Pure: a parsed spec in, a parsed spec out; a name or key that does not
// fit is a UsageError (exit 2) naming it.

import { SPEC_LIMITS, suggestKey, type ParsedSpec, type SuiteSpec } from '../spec/index.js';
import { UsageError } from './errors.js';
import { quoted } from './flags.js';

/** `--set` flags on one command line. */
export const overridesMax = 100;

/** Keeps the suites `include` names (all when empty), then drops those `exclude` names. */
export function selectSuites(parsed: ParsedSpec, include: readonly string[], exclude: readonly string[]): ParsedSpec {
  if (include.length === 0 && exclude.length === 0) return parsed;
  const known = parsed.spec.suites.map((s) => s.name);
  for (const [flag, names] of [['--suite', include], ['--exclude-suite', exclude]] as const) {
    for (const name of names) {
      if (!known.includes(name)) throw new UsageError(`${flag} ${quoted(name)}: the spec has no such suite${didYouMean(name, known)} (suites: ${known.join(', ')})`);
    }
  }
  const suites = parsed.spec.suites.filter((s) => (include.length === 0 || include.includes(s.name)) && !exclude.includes(s.name));
  if (suites.length === 0) throw new UsageError(`--suite and --exclude-suite leave no suite to run (suites: ${known.join(', ')})`);
  return { ...parsed, spec: { ...parsed.spec, suites } };
}

function didYouMean(name: string, known: readonly string[]): string {
  const near = suggestKey(name, known);
  return near === undefined ? '' : `; did you mean ${quoted(near)}?`;
}

/** The suite fields `--set` may change, with how each value is read. */
const SUITE_FIELDS = {
  retries: (v: string, key: string) => intValue(key, v, 0, SPEC_LIMITS.maxRetries),
  timeoutSec: (v: string, key: string) => intValue(key, v, 1, SPEC_LIMITS.maxTimeoutSec),
  priority: (v: string, key: string) => intValue(key, v, SPEC_LIMITS.minPriority, SPEC_LIMITS.maxPriority),
  shards: (v: string, key: string) => intValue(key, v, 1, SPEC_LIMITS.maxShards),
  exclusive: (v: string, key: string) => boolValue(key, v),
} as const satisfies Record<string, (value: string, key: string) => number | boolean>;

type SuiteField = keyof typeof SUITE_FIELDS;
const suiteFieldNames = Object.keys(SUITE_FIELDS) as SuiteField[];

/** Every key `--set` accepts, as the help and the refusals spell them. */
export const overrideKeys = ['name', 'env.<VAR>', ...suiteFieldNames.map((f) => `${f} (every suite)`), ...suiteFieldNames.map((f) => `suites.<suite>.${f}`), 'suites.<suite>.env.<VAR>'];

/**
 * Applies `key=value` overrides in order: `name`, `env.VAR`, a suite field
 * for every suite (`retries=2`) or for one (`suites.unit.retries=2`), a
 * suite's variable (`suites.unit.env.VAR=x`).
 */
export function applyOverrides(parsed: ParsedSpec, pairs: readonly string[]): ParsedSpec {
  if (pairs.length > overridesMax) throw new UsageError(`--set is given ${pairs.length} times; at most ${overridesMax} are allowed`);
  let spec = parsed.spec;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set ${quoted(pair)} is not key=value`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    spec = applyOne(spec, key, value);
  }
  return { ...parsed, spec };
}

function applyOne(spec: ParsedSpec['spec'], key: string, value: string): ParsedSpec['spec'] {
  if (key === 'name') {
    if (value.trim() === '' || value.length > SPEC_LIMITS.maxNameLength) throw new UsageError(`--set name must be 1..${SPEC_LIMITS.maxNameLength} characters`);
    return { ...spec, name: value };
  }
  const envVar = /^env\.(.+)$/.exec(key);
  if (envVar !== null) return { ...spec, env: { ...spec.env, [envName(key, envVar[1]!)]: value } };
  if (key in SUITE_FIELDS) return { ...spec, suites: spec.suites.map((s) => withField(s, key as SuiteField, value, key)) };
  const suiteKey = /^suites\.([^.]+)\.(.+)$/.exec(key);
  if (suiteKey === null) throw unknownKey(key);
  const [, suiteName, field] = suiteKey as unknown as [string, string, string];
  const names = spec.suites.map((s) => s.name);
  if (!names.includes(suiteName)) throw new UsageError(`--set ${quoted(key)}: the spec has no suite ${quoted(suiteName)}${didYouMean(suiteName, names)} (suites: ${names.join(', ')})`);
  const suiteEnv = /^env\.(.+)$/.exec(field);
  const change = (s: SuiteSpec): SuiteSpec => {
    if (suiteEnv !== null) return { ...s, env: { ...s.env, [envName(key, suiteEnv[1]!)]: value } };
    if (!(field in SUITE_FIELDS)) throw unknownKey(key);
    return withField(s, field as SuiteField, value, key);
  };
  return { ...spec, suites: spec.suites.map((s) => (s.name === suiteName ? change(s) : s)) };
}

function withField(suite: SuiteSpec, field: SuiteField, raw: string, key: string): SuiteSpec {
  const value = SUITE_FIELDS[field](raw, key);
  return { ...suite, [field]: value };
}

function envName(key: string, name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--set ${quoted(key)}: ${quoted(name)} is not a variable name`);
  return name;
}

function unknownKey(key: string): UsageError {
  const flat = ['name', ...suiteFieldNames];
  const near = suggestKey(key.split('.').at(-1) ?? key, flat);
  const hint = near === undefined ? '' : `; did you mean ${quoted(key.replace(/[^.]+$/, near))}?`;
  return new UsageError(`--set ${quoted(key)}: unknown key${hint} (keys: ${overrideKeys.join(', ')})`);
}

function intValue(key: string, raw: string, min: number, max: number): number {
  const n = /^-?\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--set ${key} must be an integer from ${min} to ${max}, got ${quoted(raw)}`);
  return n;
}

function boolValue(key: string, raw: string): boolean {
  if (raw !== 'true' && raw !== 'false') throw new UsageError(`--set ${key} must be true or false, got ${quoted(raw)}`);
  return raw === 'true';
}
