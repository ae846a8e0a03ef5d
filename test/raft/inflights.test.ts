import { describe, expect, it } from 'vitest';
import { AssertionFailure } from '../../src/raft/index.js';
import { Inflights } from '../../src/raft/core/inflights.js';

describe('Inflights', () => {
  it('fills up to inflightMessagesMax, then refuses', () => {
    const inflights = new Inflights(3, 0);
    inflights.add(1, 10);
    inflights.add(2, 10);
    expect(inflights.full()).toBe(false);
    inflights.add(3, 10);
    expect(inflights.full()).toBe(true);
    expect(() => inflights.add(4, 10)).toThrow(AssertionFailure);
  });

  it('requires increasing indexes', () => {
    const inflights = new Inflights(3, 0);
    inflights.add(5, 1);
    expect(() => inflights.add(5, 1)).toThrow(AssertionFailure);
    expect(() => inflights.add(4, 1)).toThrow(AssertionFailure);
  });

  it('freeLE frees every message up to an index', () => {
    const inflights = new Inflights(5, 0);
    for (const i of [2, 4, 6, 8]) inflights.add(i, 1);
    inflights.freeLE(5);
    expect(inflights.size()).toBe(2);
    inflights.freeLE(1);
    expect(inflights.size()).toBe(2);
    inflights.freeLE(100);
    expect(inflights.size()).toBe(0);
  });

  it('wraps around the ring', () => {
    const inflights = new Inflights(4, 0);
    for (const i of [1, 2, 3, 4]) inflights.add(i, 1);
    inflights.freeLE(3); // one left, at the last slot
    for (const i of [5, 6, 7]) inflights.add(i, 1); // these wrap to slots 0..2
    expect(inflights.full()).toBe(true);
    expect(inflights.size()).toBe(4);
    inflights.freeLE(5);
    expect(inflights.size()).toBe(2);
    inflights.add(8, 1);
    inflights.add(9, 1);
    expect(inflights.full()).toBe(true);
    inflights.freeLE(8);
    expect(inflights.size()).toBe(1);
    inflights.freeFirst();
    expect(inflights.size()).toBe(0);
  });

  it('freeFirst frees only the oldest', () => {
    const inflights = new Inflights(4, 0);
    for (const i of [3, 6, 9]) inflights.add(i, 1);
    inflights.freeFirst();
    expect(inflights.size()).toBe(2);
    inflights.freeLE(6);
    expect(inflights.size()).toBe(1);
    new Inflights(1, 0).freeFirst(); // on an empty ring: nothing to do
  });

  it('is full once the byte limit is reached, and frees bytes as it frees messages', () => {
    const inflights = new Inflights(10, 100);
    inflights.add(1, 60);
    expect(inflights.full()).toBe(false);
    inflights.add(2, 40);
    expect(inflights.full()).toBe(true);
    inflights.freeLE(1);
    expect(inflights.full()).toBe(false);
    inflights.add(3, 59);
    expect(inflights.full()).toBe(false);
    inflights.add(4, 1);
    expect(inflights.full()).toBe(true);
  });

  it('a single message larger than the byte limit is still allowed', () => {
    const inflights = new Inflights(10, 100);
    inflights.add(1, 1000);
    expect(inflights.full()).toBe(true);
    inflights.freeLE(1);
    expect(inflights.full()).toBe(false);
  });

  it('reset empties the window', () => {
    const inflights = new Inflights(2, 100);
    inflights.add(1, 50);
    inflights.add(2, 50);
    expect(inflights.full()).toBe(true);
    inflights.reset();
    expect(inflights.size()).toBe(0);
    expect(inflights.full()).toBe(false);
    inflights.add(1, 1); // indexes may start over after a reset
    expect(inflights.size()).toBe(1);
  });
});
