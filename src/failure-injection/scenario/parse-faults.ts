// The `faults` section of a chaos scenario: explicit events or a random schedule, their
// params within PARAM_BOUNDS, pinned workers, and faults that must heal before the timeout.

import {
  describeValue,
  didYouMean,
  formatDurationMs,
  isRecord,
  readNumber,
  readList,
} from '../../common/yaml-check/index.js';
import {
  FAULT_CATALOG,
  FAULT_TYPES,
  INTENSITIES,
  faultParams,
  type FaultEvent,
  type FaultParams,
  type FaultType,
  type Intensity,
  type Scope,
} from '../catalog.js';
import type { ClusterShape, RandomFaults, ScenarioChecks, ScenarioFaults } from './types.js';
import type { Checker, YamlPath } from './checker.js';
import { SCENARIO_LIMITS } from './limits.js';

export interface ParamBound {
  readonly min: number;
  readonly max: number;
  /** `min` itself is not allowed (cpuShare is in (0, 1]). */
  readonly minExclusive?: boolean;
  readonly integer: boolean;
}

/** Bounds of the `params` overrides; one entry per FaultParams field. */
export const PARAM_BOUNDS = {
  durationMs: { min: 0, max: 300_000, integer: true },
  latencyMs: { min: 0, max: 60_000, integer: true },
  jitterMs: { min: 0, max: 60_000, integer: true },
  rateKBps: { min: 1, max: 10_000_000, integer: true },
  resetAfterMs: { min: 0, max: 300_000, integer: true },
  toxicity: { min: 0, max: 1, integer: false },
  averageSize: { min: 1, max: 1_048_576, integer: true },
  sizeVariation: { min: 0, max: 1_048_576, integer: true },
  sliceDelayUs: { min: 0, max: 10_000_000, integer: true },
  cpuShare: { min: 0, max: 1, minExclusive: true, integer: false },
  spawnFailRate: { min: 0, max: 1, integer: false },
  crashRate: { min: 0, max: 1, integer: false },
  timeoutRate: { min: 0, max: 1, integer: false },
  fsyncDelayMs: { min: 0, max: 10_000, integer: true },
} as const satisfies Readonly<Record<keyof FaultParams, ParamBound>>;

export type FaultParamKey = keyof typeof PARAM_BOUNDS;
const PARAM_KEYS = Object.keys(PARAM_BOUNDS) as FaultParamKey[];

/** The params a fault type uses: durationMs and the keys its catalog entry sets. */
export function faultParamKeys(type: FaultType): readonly FaultParamKey[] {
  const used = new Set(INTENSITIES.flatMap((i) => Object.keys(FAULT_CATALOG[type].params[i])));
  return PARAM_KEYS.filter((key) => used.has(key));
}

const FAULTS_KEYS = ['events', 'random'] as const;
const EVENT_KEYS = ['at', 'type', 'scope', 'intensity', 'params', 'worker'] as const;
const RANDOM_KEYS = ['seedOffset', 'start', 'end', 'every', 'types', 'intensities', 'scopes'] as const;

function parseParamValue(c: Checker, path: YamlPath, key: FaultParamKey, value: unknown): number | undefined {
  const bound: ParamBound = PARAM_BOUNDS[key];
  return c.take(path, value, readNumber(value, bound));
}

function parseParams(c: Checker, path: YamlPath, value: unknown, type: FaultType, intensity: Intensity | undefined): Partial<FaultParams> | undefined {
  const applicable = faultParamKeys(type);
  if (!isRecord(value)) return c.expected(path, value, `a mapping of ${applicable.join(', ')}`);
  const out: Record<string, number> = {};
  let ok = true;
  for (const [key, raw] of Object.entries(value)) {
    if (!(applicable as readonly string[]).includes(key)) {
      const known = (PARAM_KEYS as readonly string[]).includes(key);
      const detail = known ? `parameter "${key}" does not apply to ${type}` : `unknown parameter "${key}"${didYouMean(key, applicable)}`;
      c.fail([...path, key], { detail, expected: `one of ${applicable.join(', ')}` }, true);
      ok = false;
      continue;
    }
    const n = parseParamValue(c, [...path, key], key as FaultParamKey, raw);
    if (n === undefined) ok = false;
    else out[key] = n;
  }
  if (!ok) return undefined;
  const params = out as Partial<FaultParams>;
  if (type === 'slice' && intensity !== undefined) {
    const effective = faultParams({ type, intensity, params });
    if ((effective.sizeVariation ?? 0) >= (effective.averageSize ?? 1)) {
      const at = params.sizeVariation !== undefined ? 'sizeVariation' : 'averageSize';
      return c.fail([...path, at], { detail: `sizeVariation (${effective.sizeVariation}) must be below averageSize (${effective.averageSize})`, expected: 'sizeVariation < averageSize' });
    }
  }
  return params;
}

function parseScope(c: Checker, path: YamlPath, value: unknown, type: FaultType): Scope | undefined {
  const allowed = FAULT_CATALOG[type].scopes;
  if (value === undefined) return allowed[0];
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as Scope;
  const detail = typeof value === 'string' ? `"${value}" is not a scope of ${type}` : `expected a scope of ${type}, got ${describeValue(value)}`;
  return c.fail(path, { detail, expected: `one of ${allowed.join(', ')} (default ${allowed[0] ?? ''})`, got: describeValue(value) });
}

function parseEvent(c: Checker, path: YamlPath, value: unknown): FaultEvent | undefined {
  const event = c.record(path, value, EVENT_KEYS);
  if (event === undefined) return undefined;
  const rawAt = c.required(path, event, 'at', 'a duration after the workload starts, like 5s');
  const atMs = rawAt === undefined ? undefined : c.durationMs([...path, 'at'], rawAt, 0, SCENARIO_LIMITS.scheduleMsMax);
  const rawType = c.required(path, event, 'type', `one of ${FAULT_TYPES.join(', ')}`);
  const type = rawType === undefined ? undefined : c.oneOf([...path, 'type'], rawType, FAULT_TYPES, 'fault type');
  const rawIntensity = c.required(path, event, 'intensity', `one of ${INTENSITIES.join(', ')}`);
  const intensity = rawIntensity === undefined ? undefined : c.oneOf([...path, 'intensity'], rawIntensity, INTENSITIES, 'intensity');
  if (type === undefined) return undefined;
  const scope = parseScope(c, [...path, 'scope'], event['scope'], type);
  const params = event['params'] === undefined ? {} : parseParams(c, [...path, 'params'], event['params'], type, intensity);
  const worker = parseEventWorker(c, path, event['worker'], scope);
  if (atMs === undefined || intensity === undefined || scope === undefined || params === undefined || worker === null) return undefined;
  return { atMs, type, scope, intensity, ...(Object.keys(params).length === 0 ? {} : { params }), ...(worker === undefined ? {} : { worker }) };
}

/** `worker: n` (1-based) pins a `worker`-scoped event to one worker; null when invalid (reported), undefined when absent. */
function parseEventWorker(c: Checker, path: YamlPath, value: unknown, scope: Scope | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (scope !== 'worker') {
    c.fail([...path, 'worker'], { detail: `worker is only for scope worker, the scope is ${scope ?? 'invalid'}`, expected: 'scope: worker with worker: n' }, true);
    return null;
  }
  return c.integer([...path, 'worker'], value, 1, SCENARIO_LIMITS.workersMax) ?? null;
}

/** Every pinned worker must exist in the cluster. */
export function checkPinnedWorkers(c: Checker, faults: ScenarioFaults, cluster: ClusterShape): void {
  if (faults.kind !== 'events') return;
  faults.events.forEach((event, i) => {
    if (event.worker !== undefined && event.worker > cluster.workers) {
      c.fail(['faults', 'events', i, 'worker'], { detail: `worker ${event.worker} does not exist: the cluster has ${cluster.workers}`, expected: `1..${cluster.workers}` });
    }
  });
}

function parseEvents(c: Checker, value: unknown): FaultEvent[] | undefined {
  const path = ['faults', 'events'];
  const max = SCENARIO_LIMITS.eventsMax;
  const list = c.take(path, value, readList(value, 0, max, `a list of at most ${max} events ({at, type, scope, intensity, params})`));
  if (list === undefined) return undefined;
  const events: FaultEvent[] = [];
  let ok = true;
  list.forEach((item: unknown, i) => {
    const event = parseEvent(c, [...path, i], item);
    if (event === undefined) ok = false;
    else events.push(event);
  });
  return ok ? events : undefined;
}

function parseRandomScopes(c: Checker, path: YamlPath, value: unknown, types: readonly FaultType[]): RandomFaults['scopes'] | undefined {
  const scopes: Partial<Record<FaultType, readonly Scope[]>> = {};
  for (const type of types) scopes[type] = FAULT_CATALOG[type].scopes;
  if (value === undefined) return scopes;
  const given = c.record(path, value, types);
  if (given === undefined) return undefined;
  let ok = true;
  for (const type of types) {
    if (given[type] === undefined) continue;
    const list = c.subset([...path, type], given[type], FAULT_CATALOG[type].scopes, `scope of ${type}`);
    if (list === undefined) ok = false;
    else scopes[type] = list;
  }
  return ok ? scopes : undefined;
}

function parseRandom(c: Checker, value: unknown): RandomFaults | undefined {
  const path = ['faults', 'random'];
  const random = c.record(path, value, RANDOM_KEYS);
  if (random === undefined) return undefined;
  const { scheduleMsMax, randomEveryMsMin, seedOffsetMax, eventsMax } = SCENARIO_LIMITS;
  const seedOffset = random['seedOffset'] === undefined ? 0 : c.integer([...path, 'seedOffset'], random['seedOffset'], 0, seedOffsetMax);
  const startMs = random['start'] === undefined ? 0 : c.durationMs([...path, 'start'], random['start'], 0, scheduleMsMax);
  const rawEnd = c.required(path, random, 'end', 'a duration, like 60s');
  const endMs = rawEnd === undefined ? undefined : c.durationMs([...path, 'end'], rawEnd, 0, scheduleMsMax);
  const rawEvery = c.required(path, random, 'every', 'a duration, like 10s');
  const everyMs = rawEvery === undefined ? undefined : c.durationMs([...path, 'every'], rawEvery, randomEveryMsMin, scheduleMsMax);
  const types = random['types'] === undefined ? [...FAULT_TYPES] : c.subset([...path, 'types'], random['types'], FAULT_TYPES, 'fault type');
  const intensities =
    random['intensities'] === undefined ? [...INTENSITIES] : c.subset([...path, 'intensities'], random['intensities'], INTENSITIES, 'intensity');
  const scopes = types === undefined ? undefined : parseRandomScopes(c, [...path, 'scopes'], random['scopes'], types);
  if (seedOffset === undefined || startMs === undefined || endMs === undefined || everyMs === undefined) return undefined;
  if (endMs < startMs) return c.fail([...path, 'end'], { detail: `end (${formatDurationMs(endMs)}) is before start (${formatDurationMs(startMs)})`, expected: 'end ≥ start' });
  const count = Math.floor((endMs - startMs) / everyMs) + 1;
  if (count > eventsMax) return c.fail([...path, 'every'], { detail: `${count} events between start and end`, expected: `at most ${eventsMax} (a longer every)` });
  if (types === undefined || intensities === undefined || scopes === undefined) return undefined;
  return { seedOffset, startMs, endMs, everyMs, types, intensities, scopes };
}

export function parseFaults(c: Checker, value: unknown): ScenarioFaults | undefined {
  if (value === undefined) return { kind: 'none' };
  const faults = c.record(['faults'], value, FAULTS_KEYS);
  if (faults === undefined) return undefined;
  const given = c.exactlyOneKey(['faults'], faults, FAULTS_KEYS, 'neither events nor random given (omit faults for a run without faults)', 'both events and random given');
  if (given === undefined) return undefined;
  if (given === 'events') {
    const events = parseEvents(c, faults['events']);
    return events === undefined ? undefined : { kind: 'events', events };
  }
  const random = parseRandom(c, faults['random']);
  return random === undefined ? undefined : { kind: 'random', random };
}

/** Faults must heal before the scenario's timeout. */
export function checkFaultsFit(c: Checker, faults: ScenarioFaults, checks: ScenarioChecks): void {
  const timeout = formatDurationMs(checks.timeoutMs);
  if (faults.kind === 'events') {
    faults.events.forEach((event, i) => {
      const endMs = event.atMs + faultParams(event).durationMs;
      if (endMs > checks.timeoutMs) {
        c.fail(['faults', 'events', i, 'at'], { detail: `the fault heals at ${formatDurationMs(endMs)}, after checks.timeout (${timeout})`, expected: 'faults that heal before the timeout' });
      }
    });
  } else if (faults.kind === 'random' && faults.random.endMs >= checks.timeoutMs) {
    c.fail(['faults', 'random', 'end'], { detail: `end (${formatDurationMs(faults.random.endMs)}) is not before checks.timeout (${timeout})`, expected: 'end < timeout' });
  }
}
