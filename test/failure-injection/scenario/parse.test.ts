import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { MATRIX_SCENARIOS } from '../../../src/failure-injection/bench.js';
import { FAULT_CATALOG, FAULT_TYPES, INTENSITIES, faultParams } from '../../../src/failure-injection/catalog.js';
import {
  ScenarioError,
  ScenarioValidationError,
  faultParamKeys,
  faultSchedule,
  formatDurationMs,
  loadScenario,
  parseDurationMs,
  parseScenario,
  scheduleEndMs,
  type Scenario,
} from '../../../src/failure-injection/scenario/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SCENARIOS = join(ROOT, 'chaos/scenarios');
const FILE = 'chaos/scenarios/test.yaml';

const schema = JSON.parse(readFileSync(join(ROOT, 'schema/chaos-scenario.schema.json'), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

const WORKLOAD = 'workload:\n  synthetic:\n    tasks: 10\n    duration: { distribution: fixed, value: 200ms }\n';
const MINIMAL = `name: t\n${WORKLOAD}`;

function rejected(text: string, file = FILE): ScenarioValidationError {
  try {
    parseScenario(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(ScenarioValidationError);
    return error as ScenarioValidationError;
  }
  throw new Error('expected the scenario to be rejected');
}

/** The scenario is refused with an error at `path` on `line`, whose message names the file, line and path and contains `words`. */
function expectProblem(text: string, path: string, line: number, ...words: string[]): ScenarioError {
  const error = rejected(text);
  const found = error.errors.find((e) => e.path === path);
  expect(found, error.message).toBeDefined();
  const problem = found as ScenarioError;
  expect(problem.line).toBe(line);
  expect(problem.message).toContain(`${FILE}:${line}:`);
  expect(problem.message).toContain(`: ${path}: `);
  for (const word of words) expect(problem.message).toContain(word);
  expect(error.message).toContain(problem.message);
  return problem;
}

function shipped(): string[] {
  return readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml')).sort();
}

describe('shipped scenarios', () => {
  it('has one file per fault type, plus mixed, ci-short, baseline, the benchmark matrix and the hedging case', () => {
    const matrix = MATRIX_SCENARIOS.map((f) => basename(f));
    expect(shipped()).toEqual([...FAULT_TYPES.map((t) => `${t}.yaml`), 'mixed.yaml', 'ci-short.yaml', 'baseline.yaml', 'bad-worker-slow-tail.yaml', 'bad-worker-slow-tail-long.yaml', ...matrix].sort());
  });

  it.each(shipped())('%s parses, is named after its file and passes the JSON schema', async (name) => {
    const file = join(SCENARIOS, name);
    const scenario = await loadScenario(file);
    expect(scenario.name).toBe(basename(name, '.yaml'));
    expect(scenario.sourceDir).toBe(SCENARIOS);
    const data = parse(readFileSync(file, 'utf8')) as unknown;
    expect(validate(data), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(FAULT_TYPES)('%s.yaml: mild, moderate, severe, each healed and settled before the next, done within 2 minutes', async (type) => {
    const scenario = await loadScenario(join(SCENARIOS, `${type}.yaml`));
    expect(scenario.workload.kind).toBe('synthetic');
    const events = faultSchedule(scenario, 1);
    expect(events.map((e) => e.type)).toEqual([type, type, type]);
    expect(events.map((e) => e.intensity)).toEqual([...INTENSITIES]);
    for (let i = 1; i < events.length; i++) {
      const previous = events[i - 1];
      const event = events[i];
      if (previous === undefined || event === undefined) throw new Error('unreachable');
      expect(event.atMs - previous.atMs).toBeGreaterThanOrEqual(faultParams(previous).durationMs + 8_000);
    }
    expect(scheduleEndMs(events)).toBeLessThanOrEqual(90_000);
  });

  it('ci-short keeps 6 slots busy and heals by 22 s', async () => {
    const scenario = await loadScenario(join(SCENARIOS, 'ci-short.yaml'));
    expect(scenario.cluster).toEqual({ coordinators: 3, workers: 3, slotsPerWorker: 2 });
    expect(scenario.workload.kind === 'synthetic' && scenario.workload.synthetic.tasks).toBe(130);
    const events = faultSchedule(scenario, 1);
    expect(events.map((e) => `${e.type}/${e.scope}`)).toEqual([
      'kill/leader',
      'pause/follower',
      'latency/all-nodes',
      'worker-crash/worker',
      'worker-flaky/worker',
      'isolate/follower',
    ]);
    expect(events.every((e) => e.intensity !== 'severe')).toBe(true);
    expect(scheduleEndMs(events)).toBeLessThanOrEqual(22_000);
    expect(scenario.checks.timeoutMs).toBeLessThan(120_000);
  });

  it('the matrix: 3 s calm before the first fault, short faults healed by 10 s (the crash loop by 14 s), the fleet-wide one 10 s long', async () => {
    for (const file of MATRIX_SCENARIOS) {
      const scenario = await loadScenario(join(SCENARIOS, basename(file)));
      const events = faultSchedule(scenario, 1);
      if (scenario.name === 'control') {
        expect(events).toEqual([]);
        continue;
      }
      expect(Math.min(...events.map((e) => e.atMs)), scenario.name).toBeGreaterThanOrEqual(3_000);
      if (scenario.name === 'fleet-transient') {
        // The fleet-wide transient fault: every worker fails for 10 s, then heals.
        expect(events.map((e) => `${e.type}/${e.scope}/${faultParams(e).durationMs}`)).toEqual(['worker-flaky/all-workers/10000']);
      } else if (scenario.name === 'bad-worker-crash-loop') {
        // Kills 5 s apart, so a restarted worker (1.5–4 s to rejoin here) works between them.
        expect(events.map((e) => e.atMs)).toEqual([3_000, 8_000, 13_000]);
        expect(scheduleEndMs(events)).toBeLessThanOrEqual(14_000);
      } else {
        expect(scheduleEndMs(events), scenario.name).toBeLessThanOrEqual(10_000);
      }
    }
  });

  it('mixed draws from every type and intensity; baseline has no faults', async () => {
    const mixed = await loadScenario(join(SCENARIOS, 'mixed.yaml'));
    expect(mixed.faults.kind === 'random' && mixed.faults.random.types).toEqual([...FAULT_TYPES]);
    expect(mixed.faults.kind === 'random' && mixed.faults.random.intensities).toEqual([...INTENSITIES]);
    const baseline = await loadScenario(join(SCENARIOS, 'baseline.yaml'));
    expect(baseline.faults).toEqual({ kind: 'none' });
    expect(faultSchedule(baseline, 7)).toEqual([]);
  });
});

describe('parseScenario', () => {
  it('applies the defaults', () => {
    const scenario: Scenario = parseScenario(MINIMAL, FILE);
    expect(scenario).toMatchObject({
      file: FILE,
      name: 't',
      description: '',
      cluster: { coordinators: 3, workers: 3, slotsPerWorker: 2 },
      workload: { kind: 'synthetic', synthetic: { tasks: 10, duration: { distribution: 'fixed', valueMs: 200 } } },
      faults: { kind: 'none' },
      adaptiveIntensity: false,
      checks: { readyWithinMs: 30_000, timeoutMs: 300_000 },
    });
  });

  it('reads events: default scope, params overrides, durations in every unit', () => {
    const scenario = parseScenario(
      `${MINIMAL}faults:\n  events:\n` +
        '    - { at: 20s, type: latency, scope: all-nodes, intensity: mild, params: { latencyMs: 80 } }\n' +
        '    - { at: 5000, type: kill, intensity: moderate }\n' +
        '    - { at: 1.5s, type: worker-slow, intensity: severe, params: { cpuShare: 0.2, durationMs: 2000 } }\n' +
        'checks: { readyWithin: 250ms, timeout: 2m }\n',
      FILE,
    );
    expect(scenario.faults).toEqual({
      kind: 'events',
      events: [
        { atMs: 20_000, type: 'latency', scope: 'all-nodes', intensity: 'mild', params: { latencyMs: 80 } },
        { atMs: 5_000, type: 'kill', scope: 'follower', intensity: 'moderate' },
        { atMs: 1_500, type: 'worker-slow', scope: 'worker', intensity: 'severe', params: { cpuShare: 0.2, durationMs: 2000 } },
      ],
    });
    expect(scenario.checks).toEqual({ readyWithinMs: 250, timeoutMs: 120_000 });
  });

  it('reads a random schedule, filling the scopes of every type from the catalog', () => {
    const scenario = parseScenario(
      `${MINIMAL}faults:\n  random: { start: 5s, end: 60s, every: 10s, types: [kill, latency], intensities: [mild], scopes: { kill: [leader] } }\n`,
      FILE,
    );
    expect(scenario.faults).toEqual({
      kind: 'random',
      random: {
        seedOffset: 0,
        startMs: 5_000,
        endMs: 60_000,
        everyMs: 10_000,
        types: ['kill', 'latency'],
        intensities: ['mild'],
        scopes: { kill: ['leader'], latency: FAULT_CATALOG.latency.scopes },
      },
    });
  });

  it('reads a spec workload relative to the scenario file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'testudo-scenario-'));
    try {
      await writeFile(join(dir, 'testudo.yaml'), 'name: x\nsuites: [{ name: u, command: "true" }]\n');
      await writeFile(join(dir, 's.yaml'), 'name: s\nworkload: { spec: ./testudo.yaml }\n');
      const scenario = await loadScenario(join(dir, 's.yaml'));
      expect(scenario.workload).toEqual({ kind: 'spec', spec: './testudo.yaml', specPath: join(dir, 'testudo.yaml') });
      const byDir = parseScenario('name: s\nworkload: { spec: . }\n', join(dir, 's.yaml'));
      expect(byDir.workload.kind === 'spec' && byDir.workload.specPath).toBe(join(dir, 'testudo.yaml'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('parses and formats durations', () => {
    expect([parseDurationMs('250ms'), parseDurationMs('5s'), parseDurationMs('2m'), parseDurationMs('1h'), parseDurationMs(42)]).toEqual([
      250, 5_000, 120_000, 3_600_000, 42,
    ]);
    for (const bad of ['5', '5 sec', '-1s', '0.5ms', 1.5, -3, 'abc', null]) expect(parseDurationMs(bad)).toBeUndefined();
    expect([formatDurationMs(250), formatDurationMs(5_000), formatDurationMs(120_000), formatDurationMs(1_500)]).toEqual(['250ms', '5s', '2m', '1500ms']);
  });

  it('names the params each fault type takes', () => {
    expect(faultParamKeys('kill')).toEqual(['durationMs']);
    expect(faultParamKeys('latency')).toEqual(['durationMs', 'latencyMs', 'jitterMs']);
    expect(faultParamKeys('worker-flaky')).toEqual(['durationMs', 'spawnFailRate', 'crashRate', 'timeoutRate']);
  });
});

describe('scenario errors name the file, the path and the line', () => {
  it('an unknown key, with a suggestion', () => {
    const e = expectProblem(`${MINIMAL}adaptiveIntensty: true\n`, 'adaptiveIntensty', 6, 'unknown key "adaptiveIntensty"', 'did you mean "adaptiveIntensity"', 'one of name, description');
    expect(e.column).toBe(1);
    expectProblem(`name: t\ncluster: { workers: 2, slot: 3 }\n${WORKLOAD}`, 'cluster.slot', 2, 'unknown key "slot"', 'one of coordinators, workers, slots');
    expectProblem(`${MINIMAL}faults:\n  events:\n    - { at: 1s, type: kill, intensity: mild, scop: leader }\n`, 'faults.events[0].scop', 8, 'unknown key "scop"');
  });

  it('steady-state checks: a success rate in 0..1 and a recovery bound', () => {
    expect(parseScenario(`${MINIMAL}checks: { minSuccessRate: 0.95, recoverWithin: 20s }\n`, FILE).checks).toEqual({ readyWithinMs: 30_000, timeoutMs: 300_000, minSuccessRate: 0.95, recoverWithinMs: 20_000 });
    expectProblem(`${MINIMAL}checks:\n  minSuccessRate: 1.5\n`, 'checks.minSuccessRate', 7, 'a number from 0 to 1', 'got 1.5');
    expectProblem(`${MINIMAL}checks:\n  recoverWithin: soon\n`, 'checks.recoverWithin', 7, 'a duration');
    expect(validate({ name: 't', workload: { synthetic: { tasks: 1, duration: { distribution: 'fixed', value: 1 } } }, checks: { minSuccessRate: 2 } })).toBe(false);
  });

  it('a bad duration', () => {
    expectProblem(`${MINIMAL}faults:\n  events:\n    - { at: 5 seconds, type: kill, intensity: mild }\n`, 'faults.events[0].at', 8, 'like 250ms, 5s or 2m', 'got "5 seconds"');
    expectProblem(`${MINIMAL}checks:\n  timeout: 5\n`, 'checks.timeout', 7, 'a duration from 1s to 1h', 'got 5');
  });

  it('an unknown fault type, listing the known ones', () => {
    expectProblem(`${MINIMAL}faults:\n  events:\n    - { at: 1s, type: kil, intensity: mild }\n`, 'faults.events[0].type', 8, 'unknown fault type "kil"', 'did you mean "kill"', 'one of kill, pause, restart');
  });

  it('a scope the fault type does not take', () => {
    const text = `${MINIMAL}faults:\n  events:\n    - { at: 1s, type: kill, intensity: mild }\n    - { at: 9s, type: kill, scope: majority, intensity: mild }\n`;
    const e = expectProblem(text, 'faults.events[1].scope', 9, '"majority" is not a scope of kill', 'one of follower, leader, node, minority');
    expect(e.column).toBe(36);
    expectProblem(`${MINIMAL}faults:\n  events:\n    - { at: 1s, type: worker-crash, scope: leader, intensity: mild }\n`, 'faults.events[0].scope', 8, 'one of worker, all-workers');
  });

  it('both spec and synthetic, or neither', () => {
    expectProblem(`name: t\n${WORKLOAD}  spec: ../../examples/testudo.yaml\n`, 'workload', 3, 'both synthetic and spec given', 'exactly one of synthetic, spec');
    expectProblem('name: t\nworkload: {}\n', 'workload', 2, 'exactly one of synthetic, spec');
    expectProblem(`${MINIMAL}faults:\n  events: []\n  random: { end: 10s, every: 5s }\n`, 'faults', 7, 'exactly one of events, random');
  });

  it('tasks out of range', () => {
    for (const tasks of [0, 5001]) {
      expectProblem(`name: t\nworkload:\n  synthetic:\n    tasks: ${tasks}\n    duration: { distribution: fixed, value: 1s }\n`, 'workload.synthetic.tasks', 4, 'an integer from 1 to 5000', `got ${tasks}`);
    }
  });

  it('a param out of bounds, or one the type does not take', () => {
    const event = (params: string, type = 'worker-slow'): string => `${MINIMAL}faults:\n  events:\n    - { at: 1s, type: ${type}, intensity: mild, params: ${params} }\n`;
    expectProblem(event('{ cpuShare: 0 }'), 'faults.events[0].params.cpuShare', 8, 'a number above 0 to 1', 'got 0');
    expectProblem(event('{ durationMs: 300001 }'), 'faults.events[0].params.durationMs', 8, 'an integer from 0 to 300000');
    expectProblem(event('{ toxicity: 1.5 }', 'reset'), 'faults.events[0].params.toxicity', 8, 'a number from 0 to 1');
    expectProblem(event('{ latencyMs: 80 }', 'kill'), 'faults.events[0].params.latencyMs', 8, 'parameter "latencyMs" does not apply to kill', 'one of durationMs');
    expectProblem(event('{ latncyMs: 80 }', 'latency'), 'faults.events[0].params.latncyMs', 8, 'unknown parameter "latncyMs"', 'did you mean "latencyMs"');
    expectProblem(event('{ sizeVariation: 300 }', 'slice'), 'faults.events[0].params.sizeVariation', 8, 'must be below averageSize (256)');
  });

  it('a spec file that does not exist', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'testudo-scenario-'));
    try {
      const file = join(dir, 'missing.yaml');
      await writeFile(file, 'name: m\nworkload:\n  spec: ../nope/testudo.yaml\n');
      const error = await loadScenario(file).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ScenarioValidationError);
      const message = (error as Error).message;
      expect(message).toContain(`${file}:3:9: workload.spec: run spec not found: ${join(dirname(dir), 'nope/testudo.yaml')}`);
      expect(message).toContain('relative to the scenario file');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('faults that outlast the timeout, a random end before its start, p95 below the median', () => {
    expectProblem(`${MINIMAL}faults:\n  events:\n    - { at: 50s, type: kill, intensity: severe }\nchecks: { timeout: 1m }\n`, 'faults.events[0].at', 8, 'heals at 65s, after checks.timeout (1m)');
    expectProblem(`${MINIMAL}faults:\n  random: { start: 20s, end: 10s, every: 5s }\n`, 'faults.random.end', 7, 'end (10s) is before start (20s)');
    expectProblem(`${MINIMAL}faults:\n  random: { end: 10s, every: 5s, types: [kill], scopes: { latency: [leader] } }\n`, 'faults.random.scopes.latency', 7, 'unknown key "latency"', 'one of kill');
    expectProblem(`name: t\nworkload:\n  synthetic:\n    tasks: 1\n    duration: { distribution: lognormal, median: 2s, p95: 1s }\n`, 'workload.synthetic.duration.p95', 5, 'p95 (1s) is below median (2s)');
  });

  it('collects every problem, sorted by line; YAML syntax and duplicated keys too', () => {
    const error = rejected('name: Bad_Name\ncluster: { coordinators: 4 }\nworkload:\n  synthetic: { tasks: 0, duration: { distribution: fixed, value: 1s } }\n');
    expect(error.errors.map((e) => [e.line, e.path])).toEqual([
      [1, 'name'],
      [2, 'cluster.coordinators'],
      [4, 'workload.synthetic.tasks'],
    ]);
    expect(error.message).toMatch(/^invalid chaos scenario chaos\/scenarios\/test\.yaml \(3 errors\):/);
    expect(rejected('name: t\nname: u\n').message).toContain(`${FILE}:2:1: YAML syntax error: Map keys must be unique`);
    expect(rejected('name: [t\n').message).toContain('YAML syntax error');
    expect(rejected('').message).toContain('the scenario is empty');
  });

  it('a missing scenario file', async () => {
    await expect(loadScenario('/nonexistent/x.yaml')).rejects.toThrow(/x\.yaml: scenario file not found/);
  });
});

describe('schema/chaos-scenario.schema.json', () => {
  const base = { name: 't', workload: { synthetic: { tasks: 10, duration: { distribution: 'fixed', value: '200ms' } } } };
  const withEvent = (event: object): object => ({ ...base, faults: { events: [{ at: '1s', type: 'kill', intensity: 'mild', ...event }] } });

  it('has the catalog: types, their scopes and their params', () => {
    const defs = (schema as { $defs: Record<string, { enum?: unknown[]; allOf?: unknown[] }> }).$defs;
    expect(defs['faultType']?.enum).toEqual([...FAULT_TYPES]);
    const branches = (defs['event']?.allOf ?? []) as { if: { properties: { type: { const: string } } }; then: { properties: { scope: { enum: string[] }; params: { propertyNames: { enum: string[] } } } } }[];
    expect(branches.map((b) => b.if.properties.type.const)).toEqual([...FAULT_TYPES]);
    for (const branch of branches) {
      const type = branch.if.properties.type.const as (typeof FAULT_TYPES)[number];
      expect(branch.then.properties.scope.enum).toEqual([...FAULT_CATALOG[type].scopes]);
      expect(branch.then.properties.params.propertyNames.enum).toEqual([...faultParamKeys(type)]);
    }
  });

  it.each([
    ['an unknown key', { ...base, adaptiveIntensty: true }],
    ['a bad duration', withEvent({ at: '5 seconds' })],
    ['an unknown type', withEvent({ type: 'kil' })],
    ['a scope the type does not take', withEvent({ scope: 'majority' })],
    ['both spec and synthetic', { ...base, workload: { ...base.workload, spec: 'x.yaml' } }],
    ['tasks 0', { ...base, workload: { synthetic: { tasks: 0, duration: { distribution: 'fixed', value: 1 } } } }],
    ['tasks 5001', { ...base, workload: { synthetic: { tasks: 5001, duration: { distribution: 'fixed', value: 1 } } } }],
    ['suites 0', { ...base, workload: { synthetic: { tasks: 10, suites: 0, duration: { distribution: 'fixed', value: 1 } } } }],
    ['suites 1001', { ...base, workload: { synthetic: { tasks: 2000, suites: 1001, duration: { distribution: 'fixed', value: 1 } } } }],
    ['a param out of bounds', withEvent({ params: { durationMs: 300_001 } })],
    ['a param the type does not take', withEvent({ params: { latencyMs: 80 } })],
  ])('refuses %s, as the parser does', (_what, data) => {
    expect(validate(data)).toBe(false);
    expect(() => parseScenario(stringify(data), FILE)).toThrow(ScenarioError);
  });
});
