import { describe, expect, it } from 'vitest';

import { defaultBreakerConfig, ejectedWorkers, failingNow, isOutlier, newBreaker, recordOutcome, validateBreakerConfig, type BreakerState, type EjectionCandidate } from '../../../src/coordinator/recovery/index.js';

function fleet(states: readonly BreakerState[], slots = 2, key = 'linux'): EjectionCandidate[] {
  return states.map((breakerState, i) => ({ workerId: `w${i + 1}`, capabilityKey: key, slots, breakerState, sinceMs: 1_000 * (states.length - i) }));
}

describe('ejection cap', () => {
  it('always lets one worker of a class with others be ejected, even under a small share', () => {
    expect([...ejectedWorkers(fleet(['open', 'closed', 'closed']), 'linux', 0.1)]).toEqual(['w1']);
  });

  it('never ejects the only worker of a class: it would stop every task of the class', () => {
    expect(ejectedWorkers(fleet(['open']), 'linux', 1).size).toBe(0);
  });

  it('keeps the rest of a fleet-wide opening in service: the earliest opened is the one ejected', () => {
    // w3 opened first (sinceMs 1000), then w2, then w1.
    const ejected = ejectedWorkers(fleet(['open', 'open', 'open']), 'linux', 0.25);
    expect([...ejected]).toEqual(['w3']);
  });

  it('ejects by slots up to the share, past the first', () => {
    const ten = fleet(['open', 'open', 'open', 'closed', 'closed', 'closed', 'closed', 'closed', 'closed', 'closed']);
    expect(ejectedWorkers(ten, 'linux', 0.25).size).toBe(2); // 4 of 20 slots ≤ 5; a third would make 6
    expect(ejectedWorkers(ten, 'linux', 0.3).size).toBe(3);
  });

  it('counts quarantined (forced-open) workers first and always ejects them', () => {
    const ejected = ejectedWorkers(fleet(['forced-open', 'forced-open', 'open', 'closed']), 'linux', 0.25);
    expect([...ejected].sort()).toEqual(['w1', 'w2']);
  });

  it('caps each capability class on its own', () => {
    const mixed = [...fleet(['open', 'closed'], 2, 'linux'), ...fleet(['open', 'closed'], 2, 'mac').map((w) => ({ ...w, workerId: `m${w.workerId}` }))];
    expect([...ejectedWorkers(mixed, 'linux', 0.25)]).toEqual(['w1']);
    expect([...ejectedWorkers(mixed, 'mac', 0.25)]).toEqual(['mw1']);
  });
});

describe('failing now', () => {
  it('needs the last three calls to have failed', () => {
    let b = newBreaker(0);
    const fail = (atMs: number): void => {
      b = recordOutcome(b, { atMs, ok: false, durationMs: 10, failureClass: 'spawn-error' }, { ...defaultBreakerConfig, minimumCalls: 20, window: { kind: 'count', size: 20 } }).breaker;
    };
    fail(1);
    fail(2);
    expect(failingNow(b)).toBe(false);
    fail(3);
    expect(failingNow(b)).toBe(true);
    b = recordOutcome(b, { atMs: 4, ok: true, durationMs: 10 }, defaultBreakerConfig).breaker;
    expect(failingNow(b)).toBe(false);
  });
});

describe('recovery settings', () => {
  it('accepts the defaults and refuses out-of-range ejection, quarantine, hold and ladder values', () => {
    expect(() => validateBreakerConfig(defaultBreakerConfig)).not.toThrow();
    const bad: Array<[string, number, RegExp]> = [
      ['maxEjectedShare', 1.5, /maxEjectedShare must be in \[0, 1\]/],
      ['quarantineAfterOpens', 0, /quarantineAfterOpens must be an integer ≥ 1/],
      ['fleetFailingShare', 0, /fleetFailingShare must be in \(0, 1\]/],
      ['fleetHoldsMax', 1.5, /fleetHoldsMax must be an integer ≥ 0/],
      ['retryBackoffMs', -1, /retryBackoffMs must be ≥ 0/],
      ['sameWorkerFailuresMax', 0, /sameWorkerFailuresMax must be an integer ≥ 1/],
      ['thresholdGuardMargin', 1, /guardMargin must be in \[0, 1\)/],
    ];
    for (const [key, value, message] of bad) expect(() => validateBreakerConfig({ ...defaultBreakerConfig, [key]: value }), key).toThrow(message);
  });
});

describe('outlier weighting', () => {
  it('degrades a worker that fails clearly more often than its peers', () => {
    expect(isOutlier({ failures: 2, failureRate: 0.3 }, [0, 0], 0.2)).toBe(true);
    expect(isOutlier({ failures: 2, failureRate: 0.2 }, [0, 0.05, 0], 0.2)).toBe(true); // exactly at the margin
  });

  it('never degrades on one failure, without peers, with the margin off, or when its peers fail as often', () => {
    expect(isOutlier({ failures: 1, failureRate: 1 }, [0, 0], 0.2)).toBe(false);
    expect(isOutlier({ failures: 5, failureRate: 1 }, [], 0.2)).toBe(false);
    expect(isOutlier({ failures: 5, failureRate: 1 }, [0, 0], 0)).toBe(false);
    // A fault the class shares raises the median with it.
    expect(isOutlier({ failures: 4, failureRate: 0.5 }, [0.4, 0.45, 0], 0.2)).toBe(false);
    expect(isOutlier({ failures: 4, failureRate: 0.19 }, [0, 0], 0.2)).toBe(false);
  });

  it('takes the median of an even number of peers as the mean of the middle two', () => {
    expect(isOutlier({ failures: 3, failureRate: 0.45 }, [0, 0.1, 0.3, 0.9], 0.25)).toBe(true); // median 0.2
    expect(isOutlier({ failures: 3, failureRate: 0.44 }, [0, 0.1, 0.3, 0.9], 0.25)).toBe(false);
  });

  it('the setting is checked', () => {
    expect(() => validateBreakerConfig({ ...defaultBreakerConfig, outlierMargin: 1.5 })).toThrow(/outlierMargin/);
    expect(() => validateBreakerConfig({ ...defaultBreakerConfig, outlierMargin: -0.1 })).toThrow(/outlierMargin/);
  });
});
