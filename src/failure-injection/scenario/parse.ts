// Reads a chaos scenario file (chaos/scenarios/*.yaml) into a validated
// Scenario. Every problem is located (line, column, YAML path) and all of
// them are reported at once, each listing what is accepted.
//
// The format, in short (schema/chaos-scenario.schema.json has it in full):
//
//   name: kill-leader               # required, [a-z0-9-], at most 64
//   description: "..."              # optional
//   cluster: { coordinators: 3, workers: 3, slots: 2 }
//   workload:                       # exactly one of synthetic / spec
//     synthetic: { tasks: 120, duration: { distribution: lognormal, median: 300ms, p95: 1500ms } }
//     spec: ../../examples/testudo.yaml   # relative to the scenario file
//   faults:                         # exactly one of events / random; omit for none
//     events: [{ at: 5s, type: kill, scope: leader, intensity: moderate, params: { durationMs: 2000 } }]
//             # scope worker may pin one worker (1-based): { at: 5s, type: worker-crash, scope: worker, worker: 1, intensity: mild }
//     random: { seedOffset: 0, start: 5s, end: 60s, every: 10s, types: [...], intensities: [...], scopes: { kill: [leader] } }
//   adaptiveIntensity: false
//   checks: { readyWithin: 30s, timeout: 5m }

import { statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Document, LineCounter } from 'yaml';
import {
  ProblemList,
  describeValue,
  didYouMean,
  formatDurationMs,
  formatPath,
  isRecord,
  nodeAtPath,
  nodePosition,
  readBoolean,
  readDurationMs,
  readEnum,
  readInteger,
  readNumber,
  readList,
  readString,
  readYamlText,
  unknownKeyDetail,
  type PathSegment,
  type Read,
} from '../../common/yaml-check/index.js';
import { DEFAULT_SPEC_FILE, SPEC_LIMITS } from '../../spec/index.js';

// Durations are read by the shared kit; scenario callers keep importing them from here.
export { parseDurationMs, formatDurationMs } from '../../common/yaml-check/index.js';
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
import { SCENARIO_ERRORS_MAX, ScenarioError, ScenarioValidationError } from './errors.js';
import type {
  ClusterShape,
  RandomFaults,
  Scenario,
  ScenarioChecks,
  ScenarioFaults,
  ScenarioWorkload,
  SyntheticWorkload,
  TaskDistribution,
  TaskDuration,
} from './types.js';

/** The limits a scenario must respect. */
export const SCENARIO_LIMITS = {
  fileBytesMax: 256 * 1024,
  nameLengthMax: 64,
  descriptionLengthMax: 4096,
  coordinatorCounts: [3, 5],
  workersMax: 16,
  slotsPerWorkerMax: 32,
  tasksMax: 5000,
  taskDurationMsMin: 1,
  taskDurationMsMax: 600_000,
  /** Explicit events, and events a random schedule may generate. */
  eventsMax: 1000,
  /** Latest time (after the workload starts) a fault may be scheduled at. */
  scheduleMsMax: 3_600_000,
  randomEveryMsMin: 1_000,
  seedOffsetMax: 0x7fff_ffff,
  readyWithinMsMax: 600_000,
  timeoutMsMin: 1_000,
  timeoutMsMax: 3_600_000,
} as const;

/** Defaults of the optional fields. */
export const SCENARIO_DEFAULTS = {
  coordinators: 3,
  workers: 3,
  slotsPerWorker: 2,
  adaptiveIntensity: false,
  readyWithinMs: 30_000,
  timeoutMs: 300_000,
} as const;

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

const ROOT_KEYS = ['name', 'description', 'cluster', 'workload', 'faults', 'adaptiveIntensity', 'checks'] as const;
const CLUSTER_KEYS = ['coordinators', 'workers', 'slots'] as const;
const WORKLOAD_KEYS = ['synthetic', 'spec'] as const;
const SYNTHETIC_KEYS = ['tasks', 'duration', 'suites'] as const;
const DISTRIBUTION_KEYS: Readonly<Record<TaskDistribution, readonly string[]>> = {
  fixed: ['distribution', 'value'],
  uniform: ['distribution', 'min', 'max'],
  lognormal: ['distribution', 'median', 'p95'],
};
const DISTRIBUTIONS = Object.keys(DISTRIBUTION_KEYS) as TaskDistribution[];
const FAULTS_KEYS = ['events', 'random'] as const;
const EVENT_KEYS = ['at', 'type', 'scope', 'intensity', 'params', 'worker'] as const;
const RANDOM_KEYS = ['seedOffset', 'start', 'end', 'every', 'types', 'intensities', 'scopes'] as const;
const CHECKS_KEYS = ['readyWithin', 'timeout', 'minSuccessRate', 'recoverWithin'] as const;
const NAME_RE = /^[a-z0-9-]+$/;

type YamlPath = readonly PathSegment[];

interface Problem {
  readonly expected?: string;
  readonly got?: string;
  readonly detail?: string;
}

/** Collects located problems; validation runs on plain values, positions come from the YAML nodes. */
class Checker {
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

function parseName(c: Checker, root: Record<string, unknown>): string | undefined {
  const expected = `a name of 1 to ${SCENARIO_LIMITS.nameLengthMax} characters from a-z, 0-9 and -`;
  const value = c.required(['name'], root, 'name', expected);
  if (value === undefined) return undefined;
  return c.take(['name'], value, readString(value, { max: SCENARIO_LIMITS.nameLengthMax, pattern: NAME_RE, expected }));
}

function parseDescription(c: Checker, value: unknown): string | undefined {
  if (value === undefined) return '';
  return c.take(['description'], value, readString(value, { min: 0, max: SCENARIO_LIMITS.descriptionLengthMax, allowNul: true }));
}

function parseCluster(c: Checker, value: unknown): ClusterShape | undefined {
  const defaults: ClusterShape = {
    coordinators: SCENARIO_DEFAULTS.coordinators,
    workers: SCENARIO_DEFAULTS.workers,
    slotsPerWorker: SCENARIO_DEFAULTS.slotsPerWorker,
  };
  if (value === undefined) return defaults;
  const cluster = c.record(['cluster'], value, CLUSTER_KEYS);
  if (cluster === undefined) return undefined;
  let coordinators: ClusterShape['coordinators'] | undefined = defaults.coordinators;
  if (cluster['coordinators'] !== undefined) {
    const n = cluster['coordinators'];
    coordinators = n === 3 || n === 5 ? n : c.expected(['cluster', 'coordinators'], n, '3 or 5');
  }
  const workers = cluster['workers'] === undefined ? defaults.workers : c.integer(['cluster', 'workers'], cluster['workers'], 1, SCENARIO_LIMITS.workersMax);
  const slots =
    cluster['slots'] === undefined ? defaults.slotsPerWorker : c.integer(['cluster', 'slots'], cluster['slots'], 1, SCENARIO_LIMITS.slotsPerWorkerMax);
  if (coordinators === undefined || workers === undefined || slots === undefined) return undefined;
  return { coordinators, workers, slotsPerWorker: slots };
}

function parseTaskDuration(c: Checker, path: YamlPath, value: unknown): TaskDuration | undefined {
  if (!isRecord(value)) return c.expected(path, value, `a mapping with a distribution (${DISTRIBUTIONS.join(', ')})`);
  const distribution = c.oneOf([...path, 'distribution'], value['distribution'], DISTRIBUTIONS, 'distribution');
  if (distribution === undefined) return undefined;
  const known = DISTRIBUTION_KEYS[distribution];
  if (c.record(path, value, known) === undefined) return undefined;
  const { taskDurationMsMin: min, taskDurationMsMax: max } = SCENARIO_LIMITS;
  const ms = (key: string): number | undefined => {
    const raw = c.required(path, value, key, `a duration from ${formatDurationMs(min)} to ${formatDurationMs(max)}`);
    return raw === undefined ? undefined : c.durationMs([...path, key], raw, min, max);
  };
  if (distribution === 'fixed') {
    const valueMs = ms('value');
    return valueMs === undefined ? undefined : { distribution, valueMs };
  }
  const [lowKey, highKey] = distribution === 'uniform' ? ['min', 'max'] : ['median', 'p95'];
  const low = ms(lowKey);
  const high = ms(highKey);
  if (low === undefined || high === undefined) return undefined;
  if (high < low) {
    return c.fail([...path, highKey], { detail: `${highKey} (${formatDurationMs(high)}) is below ${lowKey} (${formatDurationMs(low)})`, expected: `at least ${lowKey}` });
  }
  return distribution === 'uniform' ? { distribution, minMs: low, maxMs: high } : { distribution, medianMs: low, p95Ms: high };
}

function parseSynthetic(c: Checker, value: unknown): SyntheticWorkload | undefined {
  const path = ['workload', 'synthetic'];
  const synthetic = c.record(path, value, SYNTHETIC_KEYS);
  if (synthetic === undefined) return undefined;
  const rawTasks = c.required(path, synthetic, 'tasks', `an integer from 1 to ${SCENARIO_LIMITS.tasksMax}`);
  const tasks = rawTasks === undefined ? undefined : c.integer([...path, 'tasks'], rawTasks, 1, SCENARIO_LIMITS.tasksMax);
  const rawDuration = c.required(path, synthetic, 'duration', `a mapping with a distribution (${DISTRIBUTIONS.join(', ')})`);
  const duration = rawDuration === undefined ? undefined : parseTaskDuration(c, [...path, 'duration'], rawDuration);
  const suites = synthetic['suites'] === undefined ? undefined : c.integer([...path, 'suites'], synthetic['suites'], 1, SPEC_LIMITS.maxSuites);
  if (tasks === undefined || duration === undefined || (synthetic['suites'] !== undefined && suites === undefined)) return undefined;
  if (suites !== undefined && suites > tasks) return c.fail([...path, 'suites'], { detail: `${suites} suites for ${tasks} tasks`, expected: 'at most as many suites as tasks' });
  return suites === undefined ? { tasks, duration } : { tasks, duration, suites };
}

/** The run spec a `spec` workload names: a file, or a directory holding testudo.yaml. */
function resolveSpecPath(c: Checker, value: unknown, sourceDir: string): ScenarioWorkload | undefined {
  const path = ['workload', 'spec'];
  const expected = 'the path of a run spec (testudo.yaml), relative to the scenario file';
  if (typeof value !== 'string' || value.trim() === '') return c.expected(path, value, expected);
  let specPath = resolve(sourceDir, value);
  try {
    if (statSync(specPath).isDirectory()) specPath = join(specPath, DEFAULT_SPEC_FILE);
    if (statSync(specPath).isFile()) return { kind: 'spec', spec: value, specPath };
    return c.fail(path, { detail: `${specPath} is not a regular file`, expected });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const detail = code === 'ENOENT' ? `run spec not found: ${specPath} (resolved against ${sourceDir})` : `cannot read ${specPath}: ${(error as Error).message}`;
    return c.fail(path, { detail, expected });
  }
}

function parseWorkload(c: Checker, root: Record<string, unknown>, sourceDir: string): ScenarioWorkload | undefined {
  const raw = c.required([], root, 'workload', 'a mapping with synthetic or spec');
  if (raw === undefined) return undefined;
  const workload = c.record(['workload'], raw, WORKLOAD_KEYS);
  if (workload === undefined) return undefined;
  const given = WORKLOAD_KEYS.filter((key) => workload[key] !== undefined);
  if (given.length !== 1) {
    const detail = given.length === 0 ? 'no workload given' : 'both synthetic and spec given';
    return c.fail(['workload'], { detail, expected: 'exactly one of synthetic, spec' });
  }
  if (given[0] === 'spec') return resolveSpecPath(c, workload['spec'], sourceDir);
  const synthetic = parseSynthetic(c, workload['synthetic']);
  return synthetic === undefined ? undefined : { kind: 'synthetic', synthetic };
}

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
function checkPinnedWorkers(c: Checker, faults: ScenarioFaults, cluster: ClusterShape): void {
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

function parseFaults(c: Checker, value: unknown): ScenarioFaults | undefined {
  if (value === undefined) return { kind: 'none' };
  const faults = c.record(['faults'], value, FAULTS_KEYS);
  if (faults === undefined) return undefined;
  const given = FAULTS_KEYS.filter((key) => faults[key] !== undefined);
  if (given.length !== 1) {
    const detail = given.length === 0 ? 'neither events nor random given (omit faults for a run without faults)' : 'both events and random given';
    return c.fail(['faults'], { detail, expected: 'exactly one of events, random' });
  }
  if (given[0] === 'events') {
    const events = parseEvents(c, faults['events']);
    return events === undefined ? undefined : { kind: 'events', events };
  }
  const random = parseRandom(c, faults['random']);
  return random === undefined ? undefined : { kind: 'random', random };
}

function parseChecks(c: Checker, value: unknown): ScenarioChecks | undefined {
  const defaults: ScenarioChecks = { readyWithinMs: SCENARIO_DEFAULTS.readyWithinMs, timeoutMs: SCENARIO_DEFAULTS.timeoutMs };
  if (value === undefined) return defaults;
  const checks = c.record(['checks'], value, CHECKS_KEYS);
  if (checks === undefined) return undefined;
  const { readyWithinMsMax, timeoutMsMin, timeoutMsMax } = SCENARIO_LIMITS;
  const readyWithinMs =
    checks['readyWithin'] === undefined ? defaults.readyWithinMs : c.durationMs(['checks', 'readyWithin'], checks['readyWithin'], 0, readyWithinMsMax);
  const timeoutMs = checks['timeout'] === undefined ? defaults.timeoutMs : c.durationMs(['checks', 'timeout'], checks['timeout'], timeoutMsMin, timeoutMsMax);
  if (readyWithinMs === undefined || timeoutMs === undefined) return undefined;
  if (readyWithinMs > timeoutMs) {
    return c.fail(['checks', 'readyWithin'], { detail: `readyWithin (${formatDurationMs(readyWithinMs)}) exceeds timeout (${formatDurationMs(timeoutMs)})`, expected: 'readyWithin ≤ timeout' });
  }
  const rate = checks['minSuccessRate'];
  if (rate !== undefined && c.take(['checks', 'minSuccessRate'], rate, readNumber(rate, { min: 0, max: 1 })) === undefined) return undefined;
  const recoverWithinMs = checks['recoverWithin'] === undefined ? undefined : c.durationMs(['checks', 'recoverWithin'], checks['recoverWithin'], 0, timeoutMsMax);
  if (checks['recoverWithin'] !== undefined && recoverWithinMs === undefined) return undefined;
  return {
    readyWithinMs,
    timeoutMs,
    ...(typeof rate === 'number' ? { minSuccessRate: rate } : {}),
    ...(recoverWithinMs === undefined ? {} : { recoverWithinMs }),
  };
}

/** Faults must heal before the scenario's timeout. */
function checkFaultsFit(c: Checker, faults: ScenarioFaults, checks: ScenarioChecks): void {
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

function parseRoot(c: Checker, value: unknown, sourceDir: string): Omit<Scenario, 'file' | 'sourceDir'> | undefined {
  if (value === null || value === undefined) {
    return c.fail([], { detail: 'the scenario is empty', expected: `a mapping with at least name and workload (keys: ${ROOT_KEYS.join(', ')})` });
  }
  const root = c.record([], value, ROOT_KEYS);
  if (root === undefined) return undefined;
  const name = parseName(c, root);
  const description = parseDescription(c, root['description']);
  const cluster = parseCluster(c, root['cluster']);
  const workload = parseWorkload(c, root, sourceDir);
  const faults = parseFaults(c, root['faults']);
  const adaptiveIntensity =
    root['adaptiveIntensity'] === undefined ? SCENARIO_DEFAULTS.adaptiveIntensity : c.boolean(['adaptiveIntensity'], root['adaptiveIntensity']);
  const checks = parseChecks(c, root['checks']);
  if (faults !== undefined && checks !== undefined) checkFaultsFit(c, faults, checks);
  if (faults !== undefined && cluster !== undefined) checkPinnedWorkers(c, faults, cluster);
  if (name === undefined || description === undefined || cluster === undefined || workload === undefined) return undefined;
  if (faults === undefined || adaptiveIntensity === undefined || checks === undefined) return undefined;
  return { name, description, cluster, workload, faults, adaptiveIntensity, checks };
}

/**
 * Parses and validates the text of a scenario file; `file` names it in errors
 * and relative paths (`workload.spec`) resolve against its directory. Throws a
 * ScenarioValidationError listing every problem found (up to 50).
 */
export function parseScenario(text: string, file: string): Scenario {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > SCENARIO_LIMITS.fileBytesMax) {
    throw new ScenarioError({ file, expected: `a file of at most ${SCENARIO_LIMITS.fileBytesMax} bytes`, got: `${bytes} bytes` });
  }
  const { doc, lines, syntaxErrors } = readYamlText(text, { uniqueKeys: true });
  if (syntaxErrors.length > 0) {
    const errors = syntaxErrors.slice(0, SCENARIO_ERRORS_MAX).map((problem) => new ScenarioError({ file, ...problem }));
    throw new ScenarioValidationError(errors, syntaxErrors.length > SCENARIO_ERRORS_MAX);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ScenarioError({ file, detail: `cannot read the YAML: ${(error as Error).message}`, cause: error });
  }
  const sourceDir = dirname(resolve(file));
  const c = new Checker(file, doc, lines);
  const parsed = c.problems.run(() => parseRoot(c, value, sourceDir));
  if (c.problems.errors.length > 0 || parsed === undefined) {
    if (c.problems.errors.length === 0) throw new Error('scenario validation failed without an error');
    throw new ScenarioValidationError(c.problems.sorted(), c.problems.truncated);
  }
  return { file, sourceDir, ...parsed };
}

/** Reads and parses a scenario file. A missing or unreadable file is a ScenarioError too. */
export async function loadScenario(path: string): Promise<Scenario> {
  const absolute = resolve(path);
  let text: string;
  try {
    const info = await stat(absolute);
    if (!info.isFile()) throw new ScenarioError({ file: path, detail: `${absolute} is not a regular file`, expected: 'a scenario YAML file' });
    if (info.size > SCENARIO_LIMITS.fileBytesMax) {
      throw new ScenarioError({ file: path, expected: `a file of at most ${SCENARIO_LIMITS.fileBytesMax} bytes`, got: `${info.size} bytes` });
    }
    text = await readFile(absolute, 'utf8');
  } catch (error) {
    if (error instanceof ScenarioError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const detail = code === 'ENOENT' ? `scenario file not found (looked for ${absolute})` : `cannot read ${absolute}: ${(error as Error).message}`;
    throw new ScenarioError({ file: path, detail, expected: 'a readable scenario YAML file', cause: error });
  }
  return parseScenario(text, path);
}
