import { describe, expect, it } from 'vitest';
import { maxFaultIntensity } from '../../../src/coordinator/recovery/chaos-hook.js';
import { capIntensity, FAULT_CATALOG, FAULT_TYPES, faultParams, INTENSITIES, intensityRank } from '../../../src/failure-injection/catalog.js';

describe('fault catalog', () => {
  it('gives every type a default scope and parameters that grow with the intensity', () => {
    for (const type of FAULT_TYPES) {
      const kind = FAULT_CATALOG[type];
      expect(kind.scopes.length).toBeGreaterThan(0);
      const [mild, moderate, severe] = INTENSITIES.map((i) => kind.params[i].durationMs);
      expect(mild! <= moderate! && moderate! <= severe!).toBe(true);
    }
    expect(faultParams({ type: 'latency', intensity: 'moderate' })).toEqual({ durationMs: 8_000, latencyMs: 250, jitterMs: 50 });
    expect(faultParams({ type: 'latency', intensity: 'moderate', params: { latencyMs: 80 } })).toMatchObject({ latencyMs: 80, jitterMs: 50 });
  });

  it('caps a fault aimed at a worker by its breaker: closed any, half-open up to moderate, open none', () => {
    expect(capIntensity('severe', maxFaultIntensity('closed'))).toBe('severe');
    expect(capIntensity('severe', maxFaultIntensity('half-open'))).toBe('moderate');
    expect(capIntensity('mild', maxFaultIntensity('half-open'))).toBe('mild');
    expect(capIntensity('mild', maxFaultIntensity('open'))).toBeNull();
    expect(capIntensity('moderate', maxFaultIntensity('forced-open'))).toBeNull();
    expect(intensityRank('mild')).toBeLessThan(intensityRank('severe'));
  });
});
