import { describe, expect, it } from 'vitest';

import { maxFaultIntensity } from '../../../src/coordinator/recovery/index.js';

describe('maxFaultIntensity (the chaos module reads breakers through it)', () => {
  it.each([
    ['closed', 'severe'],
    ['disabled', 'severe'],
    ['half-open', 'moderate'],
    ['open', null],
    ['forced-open', null],
  ] as const)('caps faults at a %s worker to %s', (state, cap) => {
    expect(maxFaultIntensity(state)).toBe(cap);
  });
});
