import type { BreakerState } from './breaker.js';

/** Fault intensities of the chaos module (issue 6), mildest first. */
export type FaultIntensity = 'mild' | 'moderate' | 'severe';

/**
 * The strongest fault the chaos module may aim at a worker in this breaker
 * state when adaptive intensity is on: any while closed (or disabled: the
 * operator took the breaker out of the picture), mild or moderate while
 * half-open (the worker is on probation), none while open or quarantined
 * (it is already cut off; hitting it again measures nothing).
 */
export function maxFaultIntensity(state: BreakerState): FaultIntensity | null {
  switch (state) {
    case 'closed':
    case 'disabled':
      return 'severe';
    case 'half-open':
      return 'moderate';
    case 'open':
    case 'forced-open':
      return null;
  }
}
