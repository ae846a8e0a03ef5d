import { describe, expect, it } from 'vitest';
import { committedIndex, majority, quorumActive, voteResult } from '../../src/raft/index.js';

function acked(indexes: Record<string, number>): (id: string) => number {
  return (id) => indexes[id] ?? 0;
}

describe('majority', () => {
  it('is floor(n/2)+1', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(majority)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });
});

describe('committedIndex', () => {
  it('one voter: its own index', () => {
    expect(committedIndex(['1'], acked({ 1: 7 }))).toBe(7);
  });

  it('two voters: the smaller index', () => {
    expect(committedIndex(['1', '2'], acked({ 1: 7, 2: 5 }))).toBe(5);
  });

  it('three voters: the median', () => {
    expect(committedIndex(['1', '2', '3'], acked({ 1: 7, 2: 5, 3: 1 }))).toBe(5);
    expect(committedIndex(['1', '2', '3'], acked({ 1: 7, 2: 7, 3: 1 }))).toBe(7);
    expect(committedIndex(['1', '2', '3'], acked({ 1: 7 }))).toBe(0);
  });

  it('four voters: the third highest', () => {
    expect(committedIndex(['1', '2', '3', '4'], acked({ 1: 9, 2: 8, 3: 7, 4: 1 }))).toBe(7);
    expect(committedIndex(['1', '2', '3', '4'], acked({ 1: 9, 2: 8 }))).toBe(0);
  });

  it('five voters: the third highest', () => {
    expect(committedIndex(['1', '2', '3', '4', '5'], acked({ 1: 9, 2: 8, 3: 7, 4: 2, 5: 1 }))).toBe(7);
    expect(committedIndex(['5', '4', '3', '2', '1'], acked({ 1: 1, 2: 2, 3: 3, 4: 4, 5: 5 }))).toBe(3);
  });

  it('does not depend on voter order', () => {
    const indexes = acked({ a: 3, b: 9, c: 6 });
    expect(committedIndex(['a', 'b', 'c'], indexes)).toBe(committedIndex(['c', 'a', 'b'], indexes));
  });

  it('no voters: +Infinity (never the binding constraint)', () => {
    expect(committedIndex([], acked({}))).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('voteResult', () => {
  const votes = (entries: [string, boolean][]): Map<string, boolean> => new Map(entries);

  it('one voter wins with its own vote', () => {
    expect(voteResult(['1'], votes([['1', true]]))).toBe('won');
    expect(voteResult(['1'], votes([]))).toBe('pending');
  });

  it('three voters', () => {
    expect(voteResult(['1', '2', '3'], votes([['1', true]]))).toBe('pending');
    expect(voteResult(['1', '2', '3'], votes([['1', true], ['2', true]]))).toBe('won');
    expect(voteResult(['1', '2', '3'], votes([['1', true], ['2', false]]))).toBe('pending');
    expect(voteResult(['1', '2', '3'], votes([['1', true], ['2', false], ['3', false]]))).toBe('lost');
  });

  it('four voters need three', () => {
    expect(voteResult(['1', '2', '3', '4'], votes([['1', true], ['2', true]]))).toBe('pending');
    expect(voteResult(['1', '2', '3', '4'], votes([['1', true], ['2', true], ['3', false]]))).toBe('pending');
    expect(voteResult(['1', '2', '3', '4'], votes([['1', true], ['3', false], ['4', false]]))).toBe('lost');
  });

  it('five voters', () => {
    expect(voteResult(['1', '2', '3', '4', '5'], votes([['1', true], ['2', true], ['3', true]]))).toBe('won');
    expect(voteResult(['1', '2', '3', '4', '5'], votes([['1', true], ['2', false], ['3', false]]))).toBe('pending');
    expect(voteResult(['1', '2', '3', '4', '5'], votes([['2', false], ['3', false], ['4', false]]))).toBe('lost');
  });

  it('ignores votes from non-voters', () => {
    expect(voteResult(['1', '2', '3'], votes([['1', true], ['9', true]]))).toBe('pending');
    expect(voteResult(['1', '2', '3'], votes([['1', true], ['8', false], ['9', false]]))).toBe('pending');
  });
});

describe('quorumActive', () => {
  it('needs a majority of voters active', () => {
    const active = (ids: string[]) => (id: string) => ids.includes(id);
    expect(quorumActive(['1'], active(['1']))).toBe(true);
    expect(quorumActive(['1', '2', '3'], active(['1']))).toBe(false);
    expect(quorumActive(['1', '2', '3'], active(['1', '3']))).toBe(true);
    expect(quorumActive(['1', '2', '3', '4'], active(['1', '3']))).toBe(false);
    expect(quorumActive(['1', '2', '3', '4', '5'], active(['1', '3', '5']))).toBe(true);
  });
});
