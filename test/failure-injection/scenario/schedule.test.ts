import { describe, expect, it } from 'vitest';
import { FAULT_CATALOG, FAULT_TYPES, INTENSITIES } from '../../../src/failure-injection/catalog.js';
import {
  RANDOM_JITTER_SHARE,
  faultSchedule,
  parseScenario,
  randomFaultEvents,
  scheduleEndMs,
  type RandomFaults,
} from '../../../src/failure-injection/scenario/index.js';

const WORKLOAD = 'workload:\n  synthetic:\n    tasks: 10\n    duration: { distribution: fixed, value: 200ms }\n';

const RANDOM: RandomFaults = {
  seedOffset: 0,
  startMs: 5_000,
  endMs: 120_000,
  everyMs: 10_000,
  types: [...FAULT_TYPES],
  intensities: [...INTENSITIES],
  scopes: { kill: ['leader', 'follower'] },
};

describe('faultSchedule', () => {
  it('sorts explicit events by time, keeping the file order of ties, whatever the seed', () => {
    const scenario = parseScenario(
      `name: t\n${WORKLOAD}faults:\n  events:\n` +
        '    - { at: 20s, type: latency, intensity: mild }\n' +
        '    - { at: 5s, type: kill, intensity: mild }\n' +
        '    - { at: 20s, type: pause, intensity: mild }\n',
      'test.yaml',
    );
    const events = faultSchedule(scenario, 1);
    expect(events.map((e) => `${e.atMs}:${e.type}`)).toEqual(['5000:kill', '20000:latency', '20000:pause']);
    expect(faultSchedule(scenario, 99)).toEqual(events);
    expect(scheduleEndMs(events)).toBe(20_000 + FAULT_CATALOG.latency.params.mild.durationMs);
  });

  it('has no events without faults', () => {
    expect(faultSchedule({ faults: { kind: 'none' } }, 3)).toEqual([]);
    expect(scheduleEndMs([])).toBe(0);
  });

  it('counts params overrides in scheduleEndMs', () => {
    expect(scheduleEndMs([{ atMs: 1_000, type: 'kill', scope: 'leader', intensity: 'severe', params: { durationMs: 500 } }])).toBe(1_500);
  });
});

describe('randomFaultEvents', () => {
  it('is deterministic for a seed', () => {
    expect(randomFaultEvents(RANDOM, 42)).toEqual(randomFaultEvents(RANDOM, 42));
    expect(faultSchedule({ faults: { kind: 'random', random: RANDOM } }, 42)).toEqual(randomFaultEvents(RANDOM, 42));
  });

  it('differs between seeds, and seedOffset shifts the seed', () => {
    const schedules = new Set([1, 2, 3, 4, 5].map((seed) => JSON.stringify(randomFaultEvents(RANDOM, seed))));
    expect(schedules.size).toBe(5);
    expect(randomFaultEvents({ ...RANDOM, seedOffset: 1 }, 41)).toEqual(randomFaultEvents(RANDOM, 42));
  });

  it('stays within start and end, sorted, roughly every apart, drawing only what is allowed', () => {
    for (let seed = 0; seed < 50; seed++) {
      const events = randomFaultEvents(RANDOM, seed);
      expect(events).toHaveLength(12); // 5 s, 15 s, ... 115 s
      events.forEach((event, k) => {
        expect(event.atMs).toBeGreaterThanOrEqual(RANDOM.startMs);
        expect(event.atMs).toBeLessThanOrEqual(RANDOM.endMs);
        const nominal = RANDOM.startMs + k * RANDOM.everyMs;
        expect(Math.abs(event.atMs - nominal)).toBeLessThanOrEqual(RANDOM_JITTER_SHARE * RANDOM.everyMs + 1);
        expect(FAULT_CATALOG[event.type].scopes).toContain(event.scope);
        if (event.type === 'kill') expect(['leader', 'follower']).toContain(event.scope);
        if (k > 0) expect(event.atMs).toBeGreaterThanOrEqual(events[k - 1]?.atMs ?? 0);
      });
    }
  });

  it('draws every type, intensity and scope over many seeds', () => {
    const seen = new Set<string>();
    const scopes = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      for (const e of randomFaultEvents(RANDOM, seed)) {
        seen.add(`${e.type}/${e.intensity}`);
        scopes.add(`${e.type}/${e.scope}`);
      }
    }
    expect(seen.size).toBe(FAULT_TYPES.length * INTENSITIES.length);
    const allowed = FAULT_TYPES.flatMap((t) => (RANDOM.scopes[t] ?? FAULT_CATALOG[t].scopes).map((s) => `${t}/${s}`));
    expect([...scopes].sort()).toEqual(allowed.sort());
  });

  it('gives one event when start equals end', () => {
    expect(randomFaultEvents({ ...RANDOM, startMs: 7_000, endMs: 7_000 }, 1).map((e) => e.atMs)).toEqual([7_000]);
  });
});
