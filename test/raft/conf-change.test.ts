import { describe, expect, it } from 'vitest';
import {
  applyToConfState,
  ConfChangeType,
  CorruptionError,
  decodeConfChange,
  encodeConfChange,
  isMember,
  type ConfChange,
} from '../../src/raft/index.js';

const ctx = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('conf change encoding', () => {
  const cases: ConfChange[] = [
    { type: ConfChangeType.AddVoter, nodeId: '1', context: new Uint8Array(0) },
    { type: ConfChangeType.AddLearner, nodeId: 'node-42', context: ctx('10.0.0.4:7000') },
    { type: ConfChangeType.RemoveNode, nodeId: 'ñødé', context: new Uint8Array([0, 255, 1]) },
    { type: ConfChangeType.AddVoter, nodeId: 'x'.repeat(255), context: new Uint8Array(0) },
  ];

  it.each(cases)('round-trips %#', (change) => {
    expect(decodeConfChange(encodeConfChange(change), 7)).toEqual(change);
  });

  it('refuses ids it cannot encode', () => {
    expect(() => encodeConfChange({ type: ConfChangeType.AddVoter, nodeId: '', context: new Uint8Array(0) })).toThrow(RangeError);
    expect(() => encodeConfChange({ type: ConfChangeType.AddVoter, nodeId: 'x'.repeat(256), context: new Uint8Array(0) })).toThrow(RangeError);
  });

  const malformed: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['type only', new Uint8Array([0])],
    ['unknown type', new Uint8Array([3, 1, 65])],
    ['zero-length id', new Uint8Array([0, 0])],
    ['id longer than the data', new Uint8Array([0, 5, 65, 66])],
  ];

  it.each(malformed)('malformed (%s) -> CorruptionError naming the index', (_name, data) => {
    const decode = (): ConfChange => decodeConfChange(data, 12);
    expect(decode).toThrow(CorruptionError);
    expect(decode).toThrow(/index 12/);
  });

  // Regression: the fatal TextDecoder's TypeError once escaped; a corrupt
  // entry raises CorruptionError like every other malformed input.
  it('malformed (id not UTF-8) -> CorruptionError', () => {
    expect(() => decodeConfChange(new Uint8Array([0, 2, 0xc3, 0x28]), 12)).toThrow(CorruptionError);
  });
});

describe('applyToConfState', () => {
  const conf = { voters: ['1', '2', '3'], learners: ['4'] };

  it('adds a voter (sorted) and promotes a learner', () => {
    expect(applyToConfState(conf, { type: ConfChangeType.AddVoter, nodeId: '0', context: new Uint8Array(0) })).toEqual({
      voters: ['0', '1', '2', '3'],
      learners: ['4'],
    });
    expect(applyToConfState(conf, { type: ConfChangeType.AddVoter, nodeId: '4', context: new Uint8Array(0) })).toEqual({
      voters: ['1', '2', '3', '4'],
      learners: [],
    });
  });

  it('adds a learner and removes voters or learners', () => {
    expect(applyToConfState(conf, { type: ConfChangeType.AddLearner, nodeId: '5', context: new Uint8Array(0) }).learners).toEqual(['4', '5']);
    expect(applyToConfState(conf, { type: ConfChangeType.RemoveNode, nodeId: '2', context: new Uint8Array(0) })).toEqual({
      voters: ['1', '3'],
      learners: ['4'],
    });
    expect(applyToConfState(conf, { type: ConfChangeType.RemoveNode, nodeId: '4', context: new Uint8Array(0) }).learners).toEqual([]);
  });

  it('does not modify its input', () => {
    applyToConfState(conf, { type: ConfChangeType.RemoveNode, nodeId: '1', context: new Uint8Array(0) });
    expect(conf).toEqual({ voters: ['1', '2', '3'], learners: ['4'] });
  });

  it('isMember covers voters and learners', () => {
    expect(isMember(conf, '1')).toBe(true);
    expect(isMember(conf, '4')).toBe(true);
    expect(isMember(conf, '9')).toBe(false);
  });
});
