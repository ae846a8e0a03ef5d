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
import {
  formatDurationMs,
  isRecord,
  readNumber,
  readString,
  readYamlText,
} from '../../common/yaml-check/index.js';
import { DEFAULT_SPEC_FILE, SPEC_LIMITS } from '../../spec/index.js';

import { SCENARIO_ERRORS_MAX, ScenarioError, ScenarioValidationError } from './errors.js';
import { Checker, type YamlPath } from './checker.js';
import { SCENARIO_DEFAULTS, SCENARIO_LIMITS } from './limits.js';
import { checkFaultsFit, checkPinnedWorkers, parseFaults } from './parse-faults.js';

import type {
  ClusterShape,
  Scenario,
  ScenarioChecks,
  ScenarioWorkload,
  SyntheticWorkload,
  TaskDistribution,
  TaskDuration,
} from './types.js';

// Durations are read by the shared kit; scenario callers keep importing them from here.
export { parseDurationMs, formatDurationMs } from '../../common/yaml-check/index.js';
// The limits and the fault params' bounds live beside the parts that check them; callers keep importing them from here.
export { SCENARIO_DEFAULTS, SCENARIO_LIMITS } from './limits.js';
export { PARAM_BOUNDS, faultParamKeys, type FaultParamKey, type ParamBound } from './parse-faults.js';

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
const CHECKS_KEYS = ['readyWithin', 'timeout', 'minSuccessRate', 'recoverWithin'] as const;
const NAME_RE = /^[a-z0-9-]+$/;

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
  const given = c.exactlyOneKey(['workload'], workload, WORKLOAD_KEYS, 'no workload given', 'both synthetic and spec given');
  if (given === undefined) return undefined;
  if (given === 'spec') return resolveSpecPath(c, workload['spec'], sourceDir);
  const synthetic = parseSynthetic(c, workload['synthetic']);
  return synthetic === undefined ? undefined : { kind: 'synthetic', synthetic };
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
