import { describe, expect, it } from 'vitest';
import { AssertionFailure, EntryType, type Entry, type Snapshot } from '../../src/raft/index.js';
import { UnstableLog } from '../../src/raft/core/unstable-log.js';

function ents(first: number, terms: readonly number[]): Entry[] {
  return terms.map((term, i) => ({ index: first + i, term, type: EntryType.Normal, data: new Uint8Array(0) }));
}

function snap(index: number, term: number): Snapshot {
  return { metadata: { index, term, confState: { voters: ['1'], learners: [] } }, data: new Uint8Array(0) };
}

function unstableWith(offset: number, terms: readonly number[]): UnstableLog {
  const u = new UnstableLog(offset);
  u.truncateAndAppend(ents(offset, terms));
  return u;
}

describe('UnstableLog', () => {
  it('knows nothing when empty', () => {
    const u = new UnstableLog(5);
    expect(u.maybeFirstIndex()).toBeNull();
    expect(u.maybeLastIndex()).toBeNull();
    expect(u.maybeTerm(4)).toBeNull();
    expect(u.maybeTerm(5)).toBeNull();
  });

  it('answers for its entries only', () => {
    const u = unstableWith(5, [1, 2]);
    expect(u.maybeFirstIndex()).toBeNull(); // the first index comes from storage unless a snapshot is pending
    expect(u.maybeLastIndex()).toBe(6);
    expect(u.maybeTerm(5)).toBe(1);
    expect(u.maybeTerm(6)).toBe(2);
    expect(u.maybeTerm(4)).toBeNull();
    expect(u.maybeTerm(7)).toBeNull();
  });

  it('with a snapshot: first index after it, its term at its index', () => {
    const u = new UnstableLog(1);
    u.restore(snap(10, 3));
    expect(u.offset).toBe(11);
    expect(u.maybeFirstIndex()).toBe(11);
    expect(u.maybeLastIndex()).toBe(10);
    expect(u.maybeTerm(10)).toBe(3);
    expect(u.maybeTerm(9)).toBeNull();
    u.truncateAndAppend(ents(11, [3]));
    expect(u.maybeLastIndex()).toBe(11);
  });

  it('truncateAndAppend: append directly after', () => {
    const u = unstableWith(5, [1, 1]);
    u.truncateAndAppend(ents(7, [2]));
    expect(u.offset).toBe(5);
    expect(u.entries.map((e) => e.term)).toEqual([1, 1, 2]);
  });

  it('truncateAndAppend: replace a suffix of the unstable entries', () => {
    const u = unstableWith(5, [1, 1, 1]);
    u.truncateAndAppend(ents(6, [2, 2]));
    expect(u.offset).toBe(5);
    expect(u.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['5/1', '6/2', '7/2']);
  });

  it('truncateAndAppend: replace from before the offset (stable entries too)', () => {
    const u = unstableWith(5, [1, 1]);
    u.truncateAndAppend(ents(3, [2]));
    expect(u.offset).toBe(3);
    expect(u.entries.map((e) => `${e.index}/${e.term}`)).toEqual(['3/2']);
  });

  it('stableTo drops persisted entries, but not if the term changed', () => {
    const u = unstableWith(5, [1, 1, 2]);
    u.stableTo(6, 2); // 6 has term 1 now: a stale Ready, ignore
    expect(u.offset).toBe(5);
    u.stableTo(6, 1);
    expect(u.offset).toBe(7);
    expect(u.entries.map((e) => e.index)).toEqual([7]);
    u.stableTo(4, 1); // below the offset: ignore
    expect(u.offset).toBe(7);
    u.stableTo(7, 2);
    expect(u.entries).toEqual([]);
    expect(u.offset).toBe(8);
  });

  it('stableSnapTo clears only the matching snapshot', () => {
    const u = new UnstableLog(1);
    u.restore(snap(10, 3));
    u.stableSnapTo(9);
    expect(u.snapshot).not.toBeNull();
    u.stableSnapTo(10);
    expect(u.snapshot).toBeNull();
  });

  it('slice stays within the unstable range', () => {
    const u = unstableWith(5, [1, 1, 2]);
    expect(u.slice(6, 8).map((e) => e.index)).toEqual([6, 7]);
    expect(u.slice(5, 5)).toEqual([]);
    expect(() => u.slice(4, 6)).toThrow(AssertionFailure);
    expect(() => u.slice(6, 9)).toThrow(AssertionFailure);
  });
});
