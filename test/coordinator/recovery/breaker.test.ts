import { describe, expect, it } from 'vitest';

import {
  allowsAssignment,
  defaultBreakerConfig,
  disable,
  enable,
  forceOpen,
  maybeHalfOpen,
  newBreaker,
  openWaitMs,
  quarantineCooldownElapsed,
  recordOutcome,
  release,
  tripOnCrash,
  validateBreakerConfig,
  spawnRetriesMax,
  spawnRetriesOf,
  windowStats,
} from '../../../src/coordinator/recovery/index.js';
import type { Breaker, BreakerConfig, BreakerOutcome, BreakerTransition, ThresholdInput } from '../../../src/coordinator/recovery/index.js';

/** ok: passed; fail: a crash (feeds the breaker); test: tests failed; timeout: does not feed; slow: passed but slow. */
type Kind = 'ok' | 'fail' | 'test' | 'timeout' | 'slow';

// The open waits of the first design (30 s doubling to 10 min) keep the arithmetic below easy to read.
const config: BreakerConfig = {
  ...defaultBreakerConfig,
  window: { kind: 'count', size: 10 },
  minimumCalls: 5,
  failureRateThreshold: 0.5,
  slowCallDurationMs: 1_000,
  openBaseMs: 30_000,
  openMaxMs: 600_000,
};

function outcome(kind: Kind, atMs: number): BreakerOutcome {
  switch (kind) {
    case 'ok':
      return { atMs, ok: true, durationMs: 10 };
    case 'slow':
      return { atMs, ok: true, durationMs: 5_000 };
    case 'fail':
      return { atMs, ok: false, durationMs: 10, failureClass: 'crash' };
    case 'test':
      return { atMs, ok: false, durationMs: 10, failureClass: 'test-failure' };
    case 'timeout':
      return { atMs, ok: false, durationMs: 10, failureClass: 'timeout' };
  }
}

interface Fed {
  breaker: Breaker;
  transitions: BreakerTransition[];
  atMs: number;
}

/** Feeds outcomes one per second from start.atMs + 1000. */
function feed(start: Breaker | Fed, kinds: readonly Kind[], cfg: BreakerConfig = config, threshold?: ThresholdInput): Fed {
  let fed: Fed = 'breaker' in start ? { ...start, transitions: [...start.transitions] } : { breaker: start, transitions: [], atMs: 0 };
  for (const kind of kinds) {
    const atMs = fed.atMs + 1_000;
    const step = recordOutcome(fed.breaker, outcome(kind, atMs), cfg, threshold);
    fed = { breaker: step.breaker, transitions: step.transition === null ? fed.transitions : [...fed.transitions, step.transition], atMs };
  }
  return fed;
}

const times = (kind: Kind, n: number): Kind[] => Array.from({ length: n }, () => kind);

function opened(): Fed {
  const fed = feed(newBreaker(0), times('fail', 5));
  expect(fed.breaker.state).toBe('open');
  return fed;
}

describe('count window', () => {
  it('does not trip below minimumCalls, however bad', () => {
    const fed = feed(newBreaker(0), times('fail', 4));
    expect(fed.breaker.state).toBe('closed');
    expect(windowStats(fed.breaker, fed.atMs, config)).toMatchObject({ calls: 4, failures: 4, failureRate: 1 });
    const tripped = feed(fed, ['fail']);
    expect(tripped.breaker.state).toBe('open');
    expect(tripped.transitions).toHaveLength(1);
    expect(tripped.transitions[0]).toMatchObject({ from: 'closed', to: 'open', atMs: 5_000 });
    expect(tripped.transitions[0]?.reason).toMatch(/^failure rate 1\.00 over the last 5 attempts reaches 0\.50 \(static threshold\); open for 30000 ms \(open #1\)$/);
  });

  it('trips exactly at the threshold, not below', () => {
    const below = feed(newBreaker(0), [...times('ok', 5), ...times('fail', 4)]);
    expect(windowStats(below.breaker, below.atMs, config).failureRate).toBeCloseTo(4 / 9);
    expect(below.breaker.state).toBe('closed');
    const at = feed(below, ['fail']);
    expect(windowStats(at.breaker, at.atMs, config).failureRate).toBe(0.5);
    expect(at.breaker.state).toBe('open');
  });

  it('slides: old successes leave the window and the rate rises', () => {
    const fed = feed(newBreaker(0), [...times('ok', 5), ...times('fail', 4), 'ok']);
    expect(windowStats(fed.breaker, fed.atMs, config)).toMatchObject({ calls: 10, failures: 4 });
    expect(fed.breaker.state).toBe('closed');
    // Cumulatively this is 5 of 11 (< 0.5); over the last 10 it is 5 of 10.
    expect(feed(fed, ['fail']).breaker.state).toBe('open');
  });

  it('slides: old failures leave the window', () => {
    const lenient = { ...config, failureRateThreshold: 0.9 };
    const fed = feed(newBreaker(0), [...times('fail', 4), ...times('ok', 10)], lenient);
    expect(fed.breaker.state).toBe('closed');
    expect(fed.breaker.calls).toHaveLength(10);
    expect(windowStats(fed.breaker, fed.atMs, lenient)).toMatchObject({ calls: 10, failures: 0, failureRate: 0 });
  });

  it('a success that brings the window to minimumCalls can trip it', () => {
    const fed = feed(newBreaker(0), [...times('fail', 4), 'ok']);
    expect(fed.breaker.state).toBe('open');
    expect(fed.transitions[0]?.reason).toMatch(/failure rate 0\.8/);
  });

  it('asks a lazy threshold only when the window holds a failure', () => {
    let asked = 0;
    const lazy = (): ThresholdInput => {
      asked++;
      return { threshold: 0.5, reason: 'lazy' };
    };
    let b = newBreaker(0);
    for (let i = 1; i <= 8; i++) b = recordOutcome(b, outcome('ok', i), config, lazy).breaker;
    expect(asked).toBe(0);
    for (let i = 9; i <= 13; i++) b = recordOutcome(b, outcome('fail', i), config, lazy).breaker;
    expect(asked).toBeGreaterThan(0);
    expect(b.state).toBe('open');
    expect(b.reason).toMatch(/lazy/);
  });
});

describe('time window', () => {
  const timed: BreakerConfig = { ...config, window: { kind: 'time', windowMs: 60_000 } };

  it('forgets calls older than windowMs', () => {
    const fed = feed(newBreaker(0), times('fail', 4), timed);
    expect(windowStats(fed.breaker, fed.atMs, timed).calls).toBe(4);
    // 70 s later the four failures have expired: one failure is below minimumCalls.
    const later = recordOutcome(fed.breaker, outcome('fail', 70_000), timed);
    expect(later.transition).toBeNull();
    expect(windowStats(later.breaker, 70_000, timed)).toMatchObject({ calls: 1, failures: 1 });
    expect(later.breaker.calls).toHaveLength(1);
  });

  it('trips on failures inside the window and says so', () => {
    const fed = feed(newBreaker(0), times('fail', 5), timed);
    expect(fed.breaker.state).toBe('open');
    expect(fed.transitions[0]?.reason).toContain('over the last 60 s (5 attempts)');
  });

  it('a call exactly windowMs old has left the window', () => {
    const fed = feed(newBreaker(0), ['fail'], timed);
    expect(windowStats(fed.breaker, 1_000 + 60_000, timed).calls).toBe(0);
    expect(windowStats(fed.breaker, 1_000 + 59_999, timed).calls).toBe(1);
  });
});

describe('slow calls', () => {
  it('trips when the slow-call rate reaches its threshold', () => {
    const below = feed(newBreaker(0), [...times('ok', 2), ...times('slow', 3)]);
    expect(below.breaker.state).toBe('closed');
    const at = feed(newBreaker(0), [...times('ok', 1), ...times('slow', 4)]);
    expect(at.breaker.state).toBe('open');
    expect(at.transitions[0]?.reason).toMatch(/^slow-call rate 0\.80 over the last 5 attempts reaches 0\.80 \(calls ≥ 1000 ms\)/);
  });

  it('counts a timeout as slow but not as a failure', () => {
    const fed = feed(newBreaker(0), times('timeout', 5));
    expect(fed.breaker.state).toBe('closed');
    const stats = windowStats(fed.breaker, fed.atMs, config);
    expect(stats.failures).toBe(0);
    const slowTimeouts = feed(newBreaker(0), []);
    let b = slowTimeouts.breaker;
    for (let i = 1; i <= 5; i++) b = recordOutcome(b, { atMs: i, ok: false, durationMs: 60_000, failureClass: 'timeout' }, config).breaker;
    expect(b.state).toBe('open');
    expect(b.reason).toContain('slow-call rate 1.00');
  });
});

describe('open wait', () => {
  it('is short by default: 2 s, doubling to a 2-minute cap', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7, 100].map((n) => openWaitMs(n, defaultBreakerConfig));
    expect(waits).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 120_000, 120_000]);
  });

  it('doubles per consecutive open and stops at the cap', () => {
    const waits = [1, 2, 3, 4, 5, 6, 7, 100].map((n) => openWaitMs(n, config));
    expect(waits).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000]);
  });

  it('re-opens with a longer wait when probes fail, and the wait resets once closed', () => {
    let fed = opened();
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) {
      const b = fed.breaker;
      seen.push(b.openUntilMs - b.sinceMs);
      expect(maybeHalfOpen(b, b.openUntilMs - 1).transition).toBeNull();
      const half = maybeHalfOpen(b, b.openUntilMs);
      expect(half.transition).toMatchObject({ from: 'open', to: 'half-open', atMs: b.openUntilMs });
      fed = feed({ ...fed, breaker: half.breaker, atMs: b.openUntilMs }, ['fail']);
      expect(fed.breaker.state).toBe('open');
    }
    expect(seen).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
    expect(fed.breaker.opens).toBe(8);
    const half = maybeHalfOpen(fed.breaker, fed.breaker.openUntilMs);
    const closed = feed({ ...fed, breaker: half.breaker, atMs: fed.breaker.openUntilMs }, ['ok', 'ok']);
    expect(closed.breaker).toMatchObject({ state: 'closed', opens: 0, calls: [] });
    const again = feed(closed, times('fail', 5));
    expect(again.breaker.openUntilMs - again.breaker.sinceMs).toBe(30_000);
  });

  it('never leaves open before the wait, even when asked', () => {
    const fed = opened();
    expect(maybeHalfOpen(fed.breaker, fed.atMs + 29_999)).toEqual({ breaker: fed.breaker, transition: null });
    expect(allowsAssignment(fed.breaker, fed.atMs + 60_000, 0, config)).toBe(false);
  });
});

describe('half-open', () => {
  function halfOpen(): Fed {
    const fed = opened();
    const step = maybeHalfOpen(fed.breaker, fed.breaker.openUntilMs);
    return { breaker: step.breaker, transitions: [], atMs: fed.breaker.openUntilMs };
  }

  it('lets at most halfOpenProbes probes through', () => {
    const fed = halfOpen();
    expect(fed.breaker.state).toBe('half-open');
    expect(allowsAssignment(fed.breaker, fed.atMs, 0, config)).toBe(true);
    expect(allowsAssignment(fed.breaker, fed.atMs, 1, config)).toBe(true);
    expect(allowsAssignment(fed.breaker, fed.atMs, 2, config)).toBe(false);
    const one = feed(fed, ['ok']);
    expect(one.breaker).toMatchObject({ state: 'half-open', probeSuccesses: 1 });
    expect(allowsAssignment(one.breaker, one.atMs, 1, config)).toBe(false);
    expect(allowsAssignment(one.breaker, one.atMs, 0, config)).toBe(true);
  });

  it('closes once every probe succeeded (a test failure is a success)', () => {
    const closed = feed(halfOpen(), ['ok', 'test']);
    expect(closed.breaker.state).toBe('closed');
    expect(closed.transitions).toEqual([{ from: 'half-open', to: 'closed', atMs: closed.atMs, reason: '2 half-open probes succeeded' }]);
    expect(closed.breaker.calls).toEqual([]);
  });

  it('re-opens on a failed probe', () => {
    const fed = feed(halfOpen(), ['ok', 'fail']);
    expect(fed.breaker).toMatchObject({ state: 'open', opens: 2, probeSuccesses: 0 });
    expect(fed.transitions[0]?.reason).toMatch(/^half-open probe failed \(crash\); open for 60000 ms \(open #2\)$/);
  });

  it('re-opens on a slow probe', () => {
    const fed = feed(halfOpen(), ['slow']);
    expect(fed.breaker.state).toBe('open');
    expect(fed.transitions[0]?.reason).toContain('half-open probe was slow');
  });
});

describe('forced-open (quarantine)', () => {
  it('ignores successes until released', () => {
    const forced = forceOpen(newBreaker(0), 100, 'quarantined by the ladder');
    expect(forced.transition).toEqual({ from: 'closed', to: 'forced-open', atMs: 100, reason: 'quarantined by the ladder' });
    const fed = feed({ breaker: forced.breaker, transitions: [], atMs: 100 }, times('ok', 30));
    expect(fed.breaker.state).toBe('forced-open');
    expect(fed.transitions).toEqual([]);
    expect(allowsAssignment(fed.breaker, fed.atMs, 0, config)).toBe(false);
    expect(maybeHalfOpen(fed.breaker, 10_000_000).transition).toBeNull();
    const released = release(fed.breaker, fed.atMs, 'released by an operator');
    expect(released.transition).toMatchObject({ from: 'forced-open', to: 'closed' });
    expect(released.breaker).toMatchObject({ state: 'closed', calls: [], opens: 0 });
  });

  it('overrides open; an operator release closes an open breaker too, and leaves a closed one alone', () => {
    const fed = opened();
    expect(forceOpen(fed.breaker, fed.atMs, 'q').breaker.state).toBe('forced-open');
    const released = release(fed.breaker, fed.atMs, 'r');
    expect(released.breaker).toMatchObject({ state: 'closed', calls: [], opens: 0 });
    expect(released.transition).toMatchObject({ from: 'open', to: 'closed', reason: 'r' });
    expect(release(newBreaker(0), 1, 'r')).toEqual({ breaker: newBreaker(0), transition: null });
    const forced = forceOpen(fed.breaker, fed.atMs, 'q').breaker;
    expect(forceOpen(forced, fed.atMs + 1, 'again').transition).toBeNull();
  });

  it('lets a health probe release it only after the cool-down', () => {
    const forced = forceOpen(newBreaker(0), 1_000, 'q').breaker;
    expect(quarantineCooldownElapsed(forced, 1_000 + config.quarantineCooldownMs - 1, config)).toBe(false);
    expect(quarantineCooldownElapsed(forced, 1_000 + config.quarantineCooldownMs, config)).toBe(true);
    expect(quarantineCooldownElapsed(newBreaker(0), 10_000_000, config)).toBe(false);
  });
});

describe('disabled', () => {
  it('never trips and never blocks', () => {
    const off = disable(newBreaker(0), 0, 'operator').breaker;
    const fed = feed({ breaker: off, transitions: [], atMs: 0 }, times('fail', 50));
    expect(fed.breaker.state).toBe('disabled');
    expect(fed.transitions).toEqual([]);
    expect(allowsAssignment(fed.breaker, fed.atMs, 100, config)).toBe(true);
    expect(windowStats(fed.breaker, fed.atMs, config).failures).toBe(10);
    const on = enable(fed.breaker, fed.atMs, 'operator');
    expect(on.transition).toMatchObject({ from: 'disabled', to: 'closed' });
    expect(on.breaker.calls).toEqual([]);
    expect(enable(on.breaker, fed.atMs, 'again').transition).toBeNull();
  });
});

describe('adaptive recovery off', () => {
  it('records every call but never trips', () => {
    const off = { ...config, adaptiveRecovery: false };
    const fed = feed(newBreaker(0), times('fail', 10), off);
    expect(fed.breaker.state).toBe('closed');
    expect(windowStats(fed.breaker, fed.atMs, off)).toMatchObject({ calls: 10, failures: 10, failureRate: 1 });
    expect(() => validateBreakerConfig({ ...config, adaptiveRecovery: 'no' as unknown as boolean })).toThrow(/adaptiveRecovery must be true or false/);
  });

  it('gives no spawn retries in place (the fixed policy retries through the coordinator only)', () => {
    expect(spawnRetriesOf(config)).toBe(2);
    expect(spawnRetriesOf({ ...config, adaptiveRecovery: false })).toBe(0);
    expect(spawnRetriesOf({ ...config, spawnRetries: 0 })).toBe(0);
    for (const bad of [-1, 1.5, spawnRetriesMax + 1, Number.NaN]) {
      expect(() => validateBreakerConfig({ ...config, spawnRetries: bad })).toThrow(/spawnRetries must be an integer in 0\.\.5/);
    }
    expect(() => validateBreakerConfig({ ...config, spawnRetries: spawnRetriesMax })).not.toThrow();
  });
});

describe('what counts as a failure', () => {
  it('counts test failures as successes: a machine that ran the tests is healthy', () => {
    const fed = feed(newBreaker(0), times('test', 20));
    expect(fed.breaker.state).toBe('closed');
    expect(windowStats(fed.breaker, fed.atMs, config)).toMatchObject({ calls: 10, failures: 0 });
  });

  it('counts only classes that feed the breaker', () => {
    let b = newBreaker(0);
    for (const [i, failureClass] of (['missing-report', 'malformed-report', 'timeout', 'missing-report', 'malformed-report'] as const).entries()) {
      b = recordOutcome(b, { atMs: i, ok: false, durationMs: 1, failureClass }, config).breaker;
    }
    expect(b.state).toBe('closed');
    for (const [i, failureClass] of (['spawn-error', 'setup-failure', 'out-of-memory', 'lost-worker', 'delivery-failure'] as const).entries()) {
      b = recordOutcome(b, { atMs: 10 + i, ok: false, durationMs: 1, failureClass }, config).breaker;
    }
    expect(b.state).toBe('open');
  });

  it('refuses an outcome whose ok and failure class disagree', () => {
    expect(() => recordOutcome(newBreaker(0), { atMs: 1, ok: false, durationMs: 1 }, config)).toThrow(/ok=false/);
    expect(() => recordOutcome(newBreaker(0), { atMs: 1, ok: true, durationMs: 1, failureClass: 'crash' }, config)).toThrow(/ok=true/);
  });
});

describe('thresholds and config', () => {
  it('uses a passed-in (adaptive) threshold and its reason', () => {
    const threshold = { threshold: 0.2, reason: "adaptive: peers' median 0.05 + 3×MAD 0.05; 4 peers" };
    const fed = feed(newBreaker(0), [...times('ok', 4), 'fail'], config, threshold);
    expect(fed.breaker.state).toBe('open');
    expect(fed.breaker.reason).toBe("failure rate 0.20 over the last 5 attempts reaches 0.20 (adaptive: peers' median 0.05 + 3×MAD 0.05; 4 peers); open for 30000 ms (open #1)");
    const unreachable = feed(newBreaker(0), times('fail', 10), config, { threshold: 1.05, reason: 'fleet guard' });
    expect(unreachable.breaker.state).toBe('closed');
  });

  it('keeps breakers JSON-safe', () => {
    const fed = feed(opened(), []);
    expect(JSON.parse(JSON.stringify(fed.breaker))).toEqual(fed.breaker);
  });

  it('validates the config at its edges', () => {
    expect(() => validateBreakerConfig(defaultBreakerConfig)).not.toThrow();
    expect(() => validateBreakerConfig({ ...config, window: { kind: 'count', size: 0 } })).toThrow(RangeError);
    expect(() => validateBreakerConfig({ ...config, window: { kind: 'count', size: 1_001 } })).toThrow(RangeError);
    expect(() => validateBreakerConfig({ ...config, window: { kind: 'count', size: 4 } })).toThrow(/minimumCalls 5 exceeds/);
    expect(() => validateBreakerConfig({ ...config, window: { kind: 'time', windowMs: 0 } })).toThrow(RangeError);
    expect(() => validateBreakerConfig({ ...config, failureRateThreshold: 0 })).toThrow(RangeError);
    expect(() => validateBreakerConfig({ ...config, slowCallRateThreshold: 1.1 })).toThrow(RangeError);
    expect(() => validateBreakerConfig({ ...config, openBaseMs: 700_000 })).toThrow(RangeError);
    expect(() => validateBreakerConfig({ ...config, halfOpenProbes: 0 })).toThrow(RangeError);
  });
});

describe('tripOnCrash', () => {
  it('opens a closed breaker whatever its window holds, with no wait: the worker is back, so it is probed at once', () => {
    const step = tripOnCrash(newBreaker(0), 1_000, 'the process died', config);
    expect(step.breaker).toMatchObject({ state: 'open', opens: 1, openUntilMs: 1_000 });
    expect(step.transition).toMatchObject({ from: 'closed', to: 'open', atMs: 1_000 });
    expect(step.transition?.reason).toBe('the process died; the worker is back, so probing at once (open #1)');
    expect(allowsAssignment(step.breaker, 1_000, 0, config)).toBe(false);
    const probing = maybeHalfOpen(step.breaker, 1_000);
    expect(probing.transition).toMatchObject({ from: 'open', to: 'half-open', atMs: 1_000 });
    expect(allowsAssignment(probing.breaker, 1_000, config.halfOpenProbes - 1, config)).toBe(true);
    expect(allowsAssignment(probing.breaker, 1_000, config.halfOpenProbes, config)).toBe(false);
  });

  it('re-opens a probing breaker for longer; an open one waits its wait again from the crash, opens unchanged', () => {
    const open = tripOnCrash(newBreaker(0), 0, 'crash', config).breaker;
    const halfOpen = maybeHalfOpen(open, 0).breaker;
    const reopened = tripOnCrash(halfOpen, 1, 'crash', config);
    expect(reopened.transition).toMatchObject({ from: 'half-open', to: 'open' });
    expect(reopened.breaker).toMatchObject({ opens: 2, openUntilMs: 1 + 2 * config.openBaseMs });
    const again = tripOnCrash(reopened.breaker, 10_000, 'crash again', config);
    expect(again.transition).toBeNull();
    expect(again.breaker).toMatchObject({ state: 'open', sinceMs: 1, opens: 2, openUntilMs: 10_000 + 2 * config.openBaseMs });
    expect(again.breaker.reason).toContain('crash again while open');
  });

  it('leaves a quarantined or disabled breaker, or any with adaptive recovery off, as it is', () => {
    const disabled = disable(newBreaker(0), 0, 'operator').breaker;
    expect(tripOnCrash(disabled, 1, 'crash', config).transition).toBeNull();
    const quarantined = forceOpen(newBreaker(0), 0, 'operator').breaker;
    expect(tripOnCrash(quarantined, 1, 'crash', config).transition).toBeNull();
    const off = { ...config, adaptiveRecovery: false };
    expect(tripOnCrash(newBreaker(0), 1, 'crash', off).transition).toBeNull();
  });
});
