import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';

import { runKvMachineBench } from '../../src/bench/kv-machine.js';
import { testudoProtoRoot } from '../../src/common/testudo-proto.js';

import {
  encodeCommand,
  encodeMachineSnapshot,
  encodeMemberContext,
  SnapshotDecodeError,
  type Command,
  type MachineSnapshot,
} from '../../src/coordinator/codec.js';
import { compareKeys, KvMachine, type ApplyResult } from '../../src/coordinator/kv-machine.js';
import { keyBytesMax, listLimitDefault, valueBytesMax } from '../../src/coordinator/limits.js';
import { encodeOrchCommand, type OrchCommand } from '../../src/coordinator/orchestrator/commands.js';
import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import { AssertionFailure, ConfChangeType, SeededRng, type ConfChange } from '../../src/raft/index.js';

const text = new TextEncoder();
const bytes = (s: string): Uint8Array => text.encode(s);

const putCmd = (key: string, value: string | Uint8Array, idempotencyKey = ''): Uint8Array =>
  encodeCommand({ idempotencyKey, proposedAtMs: 1000, op: { type: 'put', key, value: typeof value === 'string' ? bytes(value) : value } });
const deleteCmd = (key: string, idempotencyKey = ''): Uint8Array => encodeCommand({ idempotencyKey, proposedAtMs: 1000, op: { type: 'delete', key } });
const noopCmd = (idempotencyKey = ''): Uint8Array => encodeCommand({ idempotencyKey, proposedAtMs: 1000, op: { type: 'noop' } });

/**
 * A put or delete encoded by hand, skipping the limits encodeCommand checks:
 * what an older or buggy leader might have written to the log.
 */
const unchecked = (cmd: Command): Uint8Array => {
  const key = bytes(cmd.op.type === 'put' || cmd.op.type === 'delete' ? cmd.op.key : '');
  const innerParts = [Uint8Array.of(0x0a, ...varint(key.byteLength)), key];
  if (cmd.op.type === 'put') innerParts.push(Uint8Array.of(0x12, ...varint(cmd.op.value.byteLength)), cmd.op.value);
  const inner = Buffer.concat(innerParts);
  const idem = bytes(cmd.idempotencyKey);
  const opTag = cmd.op.type === 'put' ? 0x52 : 0x5a; // fields 10 and 11, length-delimited
  return new Uint8Array(Buffer.concat([Uint8Array.of(0x0a, ...varint(idem.byteLength)), idem, Uint8Array.of(opTag, ...varint(inner.byteLength)), inner]));
};

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

const change = (type: ConfChange['type'], nodeId: string, address?: string): ConfChange => ({
  type,
  nodeId,
  context: address === undefined ? new Uint8Array(0) : encodeMemberContext({ address }),
});

const valueText = (machine: KvMachine, key: string): string | undefined => {
  const item = machine.get(key);
  return item === undefined ? undefined : new TextDecoder().decode(item.value);
};

/** One log entry, as the node hands it to the machine. */
type Step = { kind: 'command'; data: Uint8Array } | { kind: 'conf'; change: ConfChange } | { kind: 'empty' };

function feed(machine: KvMachine, steps: readonly Step[], firstIndex = 1): ApplyResult[] {
  const results: ApplyResult[] = [];
  steps.forEach((step, offset) => {
    const index = firstIndex + offset;
    if (step.kind === 'command') results.push(machine.applyCommand(index, step.data));
    else if (step.kind === 'conf') machine.applyConfChange(index, step.change);
    else machine.applyEmpty(index);
  });
  return results;
}

/** A seeded mix of every kind of entry, including duplicates and garbage. */
function randomSteps(seed: number, count: number): Step[] {
  const rng = new SeededRng(seed);
  const steps: Step[] = [];
  const key = (): string => `k${rng.intBelow(40)}${rng.intBelow(4) === 0 ? '😀' : ''}`;
  const idem = (): string => (rng.intBelow(3) === 0 ? `req-${rng.intBelow(60)}` : '');
  for (let i = 0; i < count; i++) {
    const roll = rng.intBelow(100);
    if (roll < 50) steps.push({ kind: 'command', data: putCmd(key(), `v${rng.nextUint32()}`, idem()) });
    else if (roll < 70) steps.push({ kind: 'command', data: deleteCmd(key(), idem()) });
    else if (roll < 75) steps.push({ kind: 'command', data: noopCmd(idem()) });
    else if (roll < 80) steps.push({ kind: 'command', data: Uint8Array.from([rng.intBelow(256), rng.intBelow(256), rng.intBelow(256)]) });
    else if (roll < 85) steps.push({ kind: 'empty' });
    else {
      const type = [ConfChangeType.AddVoter, ConfChangeType.AddLearner, ConfChangeType.RemoveNode][rng.intBelow(3)] ?? ConfChangeType.AddVoter;
      const address = rng.intBelow(2) === 0 ? undefined : `10.0.0.${rng.intBelow(9)}:7000`;
      steps.push({ kind: 'conf', change: change(type, `n${rng.intBelow(5)}`, address) });
    }
  }
  return steps;
}

function emptySnapshot(fields: Partial<MachineSnapshot> = {}): MachineSnapshot {
  return { formatVersion: 1, appliedIndex: 0, items: [], members: [], idempotency: [], orchestrator: new Uint8Array(0), ...fields };
}

describe('KvMachine apply', () => {
  it('puts, gets and deletes', () => {
    const machine = new KvMachine();
    expect(machine.applyCommand(1, putCmd('a', 'one'))).toEqual({ ok: true, kind: 'put', index: 1, duplicate: false });
    expect(machine.get('a')).toEqual({ key: 'a', value: bytes('one'), modIndex: 1 });
    expect(machine.applyCommand(2, putCmd('a', 'two'))).toEqual({ ok: true, kind: 'put', index: 2, duplicate: false });
    expect(machine.get('a')?.modIndex).toBe(2);
    expect(machine.applyCommand(3, deleteCmd('a'))).toEqual({ ok: true, kind: 'delete', index: 3, duplicate: false, existed: true });
    expect(machine.applyCommand(4, deleteCmd('a'))).toEqual({ ok: true, kind: 'delete', index: 4, duplicate: false, existed: false });
    expect(machine.applyCommand(5, noopCmd())).toEqual({ ok: true, kind: 'noop', index: 5, duplicate: false });
    expect(machine.get('a')).toBeUndefined();
    expect(machine.size).toBe(0);
    expect(machine.appliedIndex).toBe(5);
  });

  it('keeps its own copy of a value', () => {
    const machine = new KvMachine();
    const data = putCmd('a', 'one');
    machine.applyCommand(1, data);
    data.fill(0);
    expect(valueText(machine, 'a')).toBe('one');
  });

  it('asserts that indexes strictly increase', () => {
    const machine = new KvMachine();
    machine.applyEmpty(5);
    expect(() => machine.applyCommand(5, noopCmd())).toThrow(AssertionFailure);
    expect(() => machine.applyEmpty(4)).toThrow(AssertionFailure);
    expect(() => machine.applyConfChange(3, change(ConfChangeType.AddVoter, 'n1'))).toThrow(AssertionFailure);
    machine.applyEmpty(9); // gaps are allowed: only order is promised
    expect(machine.appliedIndex).toBe(9);
  });

  it('rejects malformed bytes without throwing and changes nothing but the applied index', () => {
    const machine = new KvMachine();
    const witness = new KvMachine();
    for (const m of [machine, witness]) m.applyCommand(1, putCmd('a', 'one', 'r1'));
    const garbage = [Uint8Array.of(0xff, 0xff, 0xff), new Uint8Array(0), Uint8Array.of(0x0a, 9, 1), encodeMemberContext({ address: 'x:1' })];
    garbage.forEach((data, offset) => {
      const result = machine.applyCommand(2 + offset, data);
      expect(result.ok).toBe(false);
      expect(result).toMatchObject({ ok: false, error: 'invalid', index: 2 + offset });
      witness.applyEmpty(2 + offset);
    });
    expect(machine.digest()).toBe(witness.digest());
  });

  it('rejects ops that break a limit, identically on every replica, writing nothing', () => {
    const machine = new KvMachine();
    const witness = new KvMachine();
    const bad: Command[] = [
      { idempotencyKey: '', proposedAtMs: 1, op: { type: 'put', key: '', value: bytes('v') } },
      { idempotencyKey: '', proposedAtMs: 1, op: { type: 'put', key: 'k'.repeat(keyBytesMax + 1), value: bytes('v') } },
      { idempotencyKey: '', proposedAtMs: 1, op: { type: 'put', key: 'a\0b', value: bytes('v') } },
      { idempotencyKey: '', proposedAtMs: 1, op: { type: 'put', key: 'big', value: new Uint8Array(valueBytesMax + 1) } },
      { idempotencyKey: 'i'.repeat(129), proposedAtMs: 1, op: { type: 'put', key: 'k', value: bytes('v') } },
      { idempotencyKey: 'r1', proposedAtMs: 1, op: { type: 'delete', key: '' } },
    ];
    const results = bad.map((cmd, offset) => machine.applyCommand(1 + offset, unchecked(cmd)));
    bad.forEach((_, offset) => witness.applyEmpty(1 + offset));
    expect(results.map((r) => r.ok)).toEqual(bad.map(() => false));
    expect(results[1]).toEqual({ ok: false, error: 'invalid', index: 2, message: `invalid key: is ${keyBytesMax + 1} bytes, limit ${keyBytesMax}` });
    expect(results[3]).toMatchObject({ message: `invalid value: is ${valueBytesMax + 1} bytes, limit ${valueBytesMax}` });
    expect(machine.digest()).toBe(witness.digest());
    // The refused command's idempotency key was not remembered.
    expect(machine.idempotencyKeyCount).toBe(0);
    expect(machine.applyCommand(100, deleteCmd('x', 'r1'))).toMatchObject({ ok: true, duplicate: false });
  });

  it('takes a key of exactly keyBytesMax bytes and a value of exactly valueBytesMax', () => {
    const machine = new KvMachine();
    const key = 'k'.repeat(keyBytesMax);
    expect(machine.applyCommand(1, putCmd(key, new Uint8Array(valueBytesMax)))).toMatchObject({ ok: true });
    expect(machine.get(key)?.value.byteLength).toBe(valueBytesMax);
  });
});

describe('KvMachine idempotency', () => {
  it('answers a duplicate with the first result and changes nothing', () => {
    const machine = new KvMachine();
    expect(machine.applyCommand(1, putCmd('a', 'one', 'r1'))).toEqual({ ok: true, kind: 'put', index: 1, duplicate: false });
    const before = new KvMachine();
    before.restore(machine.snapshot());
    expect(machine.applyCommand(2, putCmd('a', 'changed', 'r1'))).toEqual({ ok: true, kind: 'put', index: 1, duplicate: true });
    expect(machine.get('a')).toEqual({ key: 'a', value: bytes('one'), modIndex: 1 });
    before.applyEmpty(2);
    expect(machine.digest()).toBe(before.digest());
  });

  it('keeps the first delete result even after the state changed', () => {
    const machine = new KvMachine();
    machine.applyCommand(1, putCmd('a', 'one'));
    expect(machine.applyCommand(2, deleteCmd('a', 'd1'))).toMatchObject({ existed: true, duplicate: false });
    machine.applyCommand(3, putCmd('a', 'again'));
    expect(machine.applyCommand(4, deleteCmd('a', 'd1'))).toEqual({ ok: true, kind: 'delete', index: 2, duplicate: true, existed: true });
    expect(valueText(machine, 'a')).toBe('again');
    expect(machine.applyCommand(5, noopCmd('n1'))).toEqual({ ok: true, kind: 'noop', index: 5, duplicate: false });
    expect(machine.applyCommand(6, noopCmd('n1'))).toEqual({ ok: true, kind: 'noop', index: 5, duplicate: true });
  });

  it('refuses a key reused for another kind of op', () => {
    const machine = new KvMachine();
    machine.applyCommand(1, putCmd('a', 'one', 'r1'));
    expect(machine.applyCommand(2, deleteCmd('a', 'r1'))).toEqual({
      ok: false,
      error: 'invalid',
      index: 2,
      message: 'idempotency key "r1" was first used for a put at index 1, not a delete',
    });
    expect(valueText(machine, 'a')).toBe('one');
  });

  it('forgets the oldest key in log order beyond the bound', () => {
    const machine = new KvMachine({ idempotencyKeysMax: 3 });
    for (let i = 1; i <= 3; i++) machine.applyCommand(i, putCmd(`k${i}`, 'v', `r${i}`));
    // A duplicate hit does not make r1 younger: eviction follows the log, not use.
    expect(machine.applyCommand(4, putCmd('k1', 'v', 'r1'))).toMatchObject({ duplicate: true });
    machine.applyCommand(5, putCmd('k5', 'v', 'r5'));
    expect(machine.idempotencyKeyCount).toBe(3);
    expect(machine.applyCommand(6, putCmd('k1', 'v', 'r1'))).toEqual({ ok: true, kind: 'put', index: 6, duplicate: false });
    // r1 is back as the newest; r2 and r3 went first.
    expect(machine.idempotencyKeyCount).toBe(3);
    expect(machine.applyCommand(7, putCmd('k2', 'v', 'r2'))).toMatchObject({ duplicate: false });
    // Now r5, r1, r2, oldest first.
    expect(machine.applyCommand(8, putCmd('k5', 'v', 'r5'))).toMatchObject({ duplicate: true, index: 5 });
    expect(machine.applyCommand(9, putCmd('k1', 'v', 'r1'))).toMatchObject({ duplicate: true, index: 6 });
    expect(machine.applyCommand(10, putCmd('k3', 'v', 'r3'))).toMatchObject({ duplicate: false, index: 10 });
    expect(machine.idempotencyKeyCount).toBe(3);
  });

  it('refuses a bound below 1', () => {
    expect(() => new KvMachine({ idempotencyKeysMax: 0 })).toThrow(RangeError);
    expect(() => new KvMachine({ idempotencyKeysMax: 1.5 })).toThrow(RangeError);
  });

  it('keeps the newest keys when restoring more than its bound', () => {
    const big = new KvMachine({ idempotencyKeysMax: 10 });
    for (let i = 1; i <= 5; i++) big.applyCommand(i, noopCmd(`r${i}`));
    const small = new KvMachine({ idempotencyKeysMax: 2 });
    small.restore(big.snapshot());
    expect(small.idempotencyKeyCount).toBe(2);
    expect(small.applyCommand(6, noopCmd('r5'))).toMatchObject({ duplicate: true, index: 5 });
    expect(small.applyCommand(7, noopCmd('r3'))).toMatchObject({ duplicate: false, index: 7 });
  });
});

describe('KvMachine membership', () => {
  it('applies voters, learners, promotion and removal', () => {
    const machine = new KvMachine();
    machine.applyConfChange(1, change(ConfChangeType.AddVoter, 'n2', '127.0.0.1:7002'));
    machine.applyConfChange(2, change(ConfChangeType.AddVoter, 'n1', '127.0.0.1:7001'));
    machine.applyConfChange(3, change(ConfChangeType.AddLearner, 'n4', '127.0.0.1:7004'));
    expect(machine.members()).toEqual([
      { id: 'n1', address: '127.0.0.1:7001', kind: 'voter' },
      { id: 'n2', address: '127.0.0.1:7002', kind: 'voter' },
      { id: 'n4', address: '127.0.0.1:7004', kind: 'learner' },
    ]);
    // Promotion without a context keeps the learner's address.
    machine.applyConfChange(4, change(ConfChangeType.AddVoter, 'n4'));
    expect(machine.members()[2]).toEqual({ id: 'n4', address: '127.0.0.1:7004', kind: 'voter' });
    // A context with an address replaces it.
    machine.applyConfChange(5, change(ConfChangeType.AddVoter, 'n2', '10.0.0.2:7002'));
    expect(machine.members()[1]).toEqual({ id: 'n2', address: '10.0.0.2:7002', kind: 'voter' });
    machine.applyConfChange(6, change(ConfChangeType.RemoveNode, 'n1'));
    expect(machine.members().map((m) => m.id)).toEqual(['n2', 'n4']);
    // A member added back without a context has no known address.
    machine.applyConfChange(7, change(ConfChangeType.AddLearner, 'n1'));
    expect(machine.members()[0]).toEqual({ id: 'n1', address: '', kind: 'learner' });
    expect(machine.appliedIndex).toBe(7);
  });

  it('keeps the known address when the context does not decode', () => {
    const machine = new KvMachine();
    machine.applyConfChange(1, change(ConfChangeType.AddLearner, 'n3', '127.0.0.1:7003'));
    machine.applyConfChange(2, { type: ConfChangeType.AddVoter, nodeId: 'n3', context: Uint8Array.of(0x0a, 40) });
    expect(machine.members()).toEqual([{ id: 'n3', address: '127.0.0.1:7003', kind: 'voter' }]);
  });

  it('ignores removal of a stranger', () => {
    const machine = new KvMachine();
    machine.applyConfChange(1, change(ConfChangeType.RemoveNode, 'n9'));
    expect(machine.members()).toEqual([]);
  });
});

describe('KvMachine list', () => {
  const keys = ['a', 'app/1', 'app/2', 'app/3', 'app/4', 'apple', 'b/1', 'b/2'];
  const machine = new KvMachine();
  keys.forEach((key, offset) => machine.applyCommand(offset + 1, putCmd(key, key)));
  const listed = (options: Parameters<KvMachine['list']>[0]): [string[], boolean] => {
    const page = machine.list(options);
    return [page.items.map((item) => item.key), page.more];
  };

  it('lists everything in key order', () => {
    expect(listed({})).toEqual([keys, false]);
    expect(machine.list({}).items[1]).toEqual({ key: 'app/1', value: bytes('app/1'), modIndex: 2 });
  });

  it('filters by prefix', () => {
    expect(listed({ prefix: 'app/' })).toEqual([['app/1', 'app/2', 'app/3', 'app/4'], false]);
    expect(listed({ prefix: 'app' })).toEqual([['app/1', 'app/2', 'app/3', 'app/4', 'apple'], false]);
    expect(listed({ prefix: 'c' })).toEqual([[], false]);
    expect(listed({ prefix: 'b/2' })).toEqual([['b/2'], false]);
  });

  it('pages with startAfter and limit, setting more', () => {
    expect(listed({ prefix: 'app/', limit: 2 })).toEqual([['app/1', 'app/2'], true]);
    expect(listed({ prefix: 'app/', limit: 2, startAfter: 'app/2' })).toEqual([['app/3', 'app/4'], false]);
    expect(listed({ prefix: 'app/', limit: 3, startAfter: 'app/1' })).toEqual([['app/2', 'app/3', 'app/4'], false]);
    expect(listed({ prefix: 'app/', limit: 1, startAfter: 'app/3' })).toEqual([['app/4'], false]);
    // startAfter need not exist, and may lie before or after the prefix range.
    expect(listed({ prefix: 'app/', startAfter: 'app/25' })).toEqual([['app/3', 'app/4'], false]);
    expect(listed({ prefix: 'app/', startAfter: 'a' })).toEqual([['app/1', 'app/2', 'app/3', 'app/4'], false]);
    expect(listed({ prefix: 'app/', startAfter: 'b' })).toEqual([[], false]);
    expect(listed({ limit: 7 })).toEqual([keys.slice(0, 7), true]);
    expect(listed({ limit: 8 })).toEqual([keys, false]);
  });

  it('pages through everything exactly once', () => {
    const big = new KvMachine();
    for (let i = 0; i < 2500; i++) big.applyCommand(i + 1, putCmd(`key-${(i * 7919) % 2500}`, 'v'));
    const seen: string[] = [];
    let startAfter = '';
    for (;;) {
      const page = big.list({ startAfter, limit: 100 });
      seen.push(...page.items.map((item) => item.key));
      if (!page.more) break;
      startAfter = seen[seen.length - 1] ?? '';
    }
    expect(seen).toHaveLength(2500);
    expect(seen).toEqual([...seen].sort());
    expect(big.list({}).items).toHaveLength(listLimitDefault);
  });

  it('orders by UTF-8 bytes, not UTF-16 code units', () => {
    const m = new KvMachine();
    const unicode = ['\uFFFF', '😀', 'z', 'é', '\uE000', 'a\u0001', 'a'];
    unicode.forEach((key, offset) => m.applyCommand(offset + 1, putCmd(key, 'v')));
    const expected = [...unicode].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(expected).toEqual(['a', 'a\u0001', 'z', 'é', '\uE000', '\uFFFF', '😀']);
    expect(m.list({}).items.map((item) => item.key)).toEqual(expected);
  });

  it('stays correct through random puts, deletes and re-puts', () => {
    const rng = new SeededRng(7);
    const m = new KvMachine();
    const model = new Map<string, string>();
    const alphabet = ['a', 'b', '/', 'é', '\uFFFD', '😀'];
    const randomKey = (): string => Array.from({ length: 1 + rng.intBelow(3) }, () => alphabet[rng.intBelow(alphabet.length)]).join('');
    for (let index = 1; index <= 3000; index++) {
      const key = randomKey();
      if (rng.intBelow(3) === 0) {
        m.applyCommand(index, deleteCmd(key));
        model.delete(key);
      } else {
        m.applyCommand(index, putCmd(key, `${index}`));
        model.set(key, `${index}`);
      }
      if (rng.intBelow(20) === 0) {
        const prefix = rng.intBelow(2) === 0 ? '' : randomKey().slice(0, 1);
        const startAfter = rng.intBelow(2) === 0 ? '' : randomKey();
        const limit = 1 + rng.intBelow(10);
        const matching = [...model.keys()]
          .filter((k) => k.startsWith(prefix) && (startAfter === '' || Buffer.compare(Buffer.from(k), Buffer.from(startAfter)) > 0))
          .sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        const page = m.list({ prefix, startAfter, limit });
        expect(page.items.map((item) => [item.key, new TextDecoder().decode(item.value)])).toEqual(
          matching.slice(0, limit).map((k) => [k, model.get(k)]),
        );
        expect(page.more).toBe(matching.length > limit);
      }
    }
    expect(m.size).toBe(model.size);
  });
});

describe('compareKeys', () => {
  it('agrees with UTF-8 byte order', () => {
    const rng = new SeededRng(11);
    const units = ['a', 'Z', '\u0000', '\u007F', '\u0080', 'é', '\uD7FF', '\uE000', '\uFFFF', '😀', '\u{10FFFF}', '\u{10000}'];
    for (let i = 0; i < 2000; i++) {
      const make = (): string => Array.from({ length: rng.intBelow(4) }, () => units[rng.intBelow(units.length)]).join('');
      const x = make();
      const y = make();
      expect(Math.sign(compareKeys(x, y))).toBe(Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y))));
    }
  });
});

describe('KvMachine snapshots and digests', () => {
  it('replays deterministically: same entries, same results and digest', () => {
    const steps = randomSteps(42, 3000);
    const a = new KvMachine({ idempotencyKeysMax: 20 });
    const b = new KvMachine({ idempotencyKeysMax: 20 });
    const resultsA = feed(a, steps);
    const resultsB = feed(b, steps);
    expect(resultsA).toEqual(resultsB);
    expect(a.digest()).toBe(b.digest());
    expect(a.snapshot()).toEqual(b.snapshot());
    expect(a.digest()).toMatch(/^[0-9a-f]{64}$/);
    // The digest hashes exactly the snapshot's bytes (it skips only the snapshot's scan).
    expect(a.digest()).toBe(createHash('sha256').update(a.snapshot()).digest('hex'));
    // A different history gives a different state.
    const c = new KvMachine({ idempotencyKeysMax: 20 });
    feed(c, randomSteps(43, 3000));
    expect(c.digest()).not.toBe(a.digest());
  });

  it('gives equal digests for equal content reached in different insertion orders', () => {
    const a = new KvMachine();
    const b = new KvMachine();
    feed(a, [
      { kind: 'command', data: putCmd('x', 'tmp') },
      { kind: 'command', data: putCmd('b', 'B') },
      { kind: 'command', data: putCmd('a', 'A') },
      { kind: 'command', data: deleteCmd('x') },
      { kind: 'conf', change: change(ConfChangeType.AddVoter, 'n2', 'h2:1') },
      { kind: 'conf', change: change(ConfChangeType.AddVoter, 'n1', 'h1:1') },
    ]);
    feed(b, [
      { kind: 'command', data: putCmd('a', 'tmp') },
      { kind: 'command', data: putCmd('b', 'B') },
      { kind: 'command', data: putCmd('a', 'A') },
      { kind: 'command', data: deleteCmd('zz') },
      { kind: 'conf', change: change(ConfChangeType.AddVoter, 'n1', 'h1:1') },
      { kind: 'conf', change: change(ConfChangeType.AddVoter, 'n2', 'h2:1') },
    ]);
    expect(a.digest()).toBe(b.digest());
    // And a snapshot listing the same state in another order restores to it.
    const shuffled = emptySnapshot({
      appliedIndex: 6,
      items: [
        { key: 'b', value: bytes('B'), modIndex: 2 },
        { key: 'a', value: bytes('A'), modIndex: 3 },
      ],
      members: [
        { id: 'n2', address: 'h2:1', kind: 'voter' },
        { id: 'n1', address: 'h1:1', kind: 'voter' },
      ],
    });
    const c = new KvMachine();
    c.restore(encodeMachineSnapshot(shuffled));
    expect(c.digest()).toBe(a.digest());
    expect(c.snapshot()).toEqual(a.snapshot());
  });

  it('restores to an identical state that reads and continues the same', () => {
    const steps = randomSteps(5, 2000);
    const source = new KvMachine({ idempotencyKeysMax: 30 });
    feed(source, steps.slice(0, 1500));
    const copy = new KvMachine({ idempotencyKeysMax: 30 });
    copy.applyCommand(1, putCmd('stale-key', 'gone after restore'));
    copy.applyConfChange(2, change(ConfChangeType.AddVoter, 'stale-member'));
    copy.restore(source.snapshot());
    expect(copy.digest()).toBe(source.digest());
    expect(copy.appliedIndex).toBe(source.appliedIndex);
    expect(copy.get('stale-key')).toBeUndefined();
    expect(copy.list({ limit: 10_000 })).toEqual(source.list({ limit: 10_000 }));
    expect(copy.members()).toEqual(source.members());
    expect(copy.size).toBe(source.size);
    expect(copy.idempotencyKeyCount).toBe(source.idempotencyKeyCount);
    // Both keep agreeing, duplicates included, as the log goes on.
    expect(feed(copy, steps.slice(1500), 1501)).toEqual(feed(source, steps.slice(1500), 1501));
    expect(copy.digest()).toBe(source.digest());
  });

  it('refuses a snapshot of another format version, or an inconsistent one, and keeps its state', () => {
    const machine = new KvMachine();
    machine.applyCommand(1, putCmd('a', 'one', 'r1'));
    const digest = machine.digest();
    const bad: [MachineSnapshot, RegExp][] = [
      [emptySnapshot({ formatVersion: 2 }), /format version 2; this build reads version 1 only/],
      [emptySnapshot({ appliedIndex: 5, items: [{ key: 'a', value: bytes('1'), modIndex: 1 }, { key: 'a', value: bytes('2'), modIndex: 2 }] }), /appears twice/],
      [emptySnapshot({ appliedIndex: 5, items: [{ key: 'a', value: bytes('1'), modIndex: 6 }] }), /mod_index 6 outside 1..5/],
      [emptySnapshot({ appliedIndex: 5, items: [{ key: '', value: bytes('1'), modIndex: 1 }] }), /must not be empty/],
      [emptySnapshot({ members: [{ id: 'n1', address: '', kind: 'voter' }, { id: 'n1', address: '', kind: 'learner' }] }), /member n1 appears twice/],
      [
        emptySnapshot({
          appliedIndex: 9,
          idempotency: [
            { key: 'r2', index: 4, existed: false, kind: 'put' },
            { key: 'r1', index: 3, existed: false, kind: 'put' },
          ],
        }),
        /oldest first/,
      ],
      [emptySnapshot({ appliedIndex: 2, idempotency: [{ key: 'r1', index: 3, existed: false, kind: 'put' }] }), /indexes in 1..2/],
    ];
    for (const [snapshot, message] of bad) {
      expect(() => machine.restore(encodeMachineSnapshot(snapshot))).toThrow(SnapshotDecodeError);
      expect(() => machine.restore(encodeMachineSnapshot(snapshot))).toThrow(message);
      expect(machine.digest()).toBe(digest);
    }
    expect(() => machine.restore(Uint8Array.of(0xff, 0xff))).toThrow(SnapshotDecodeError);
  });

  it('changes the digest when any field changes', () => {
    const base = emptySnapshot({
      appliedIndex: 10,
      items: [{ key: 'a', value: bytes('one'), modIndex: 3 }],
      members: [{ id: 'n1', address: 'h1:1', kind: 'voter' }],
      idempotency: [{ key: 'r1', index: 4, existed: true, kind: 'delete' }],
    });
    const digestOf = (snapshot: MachineSnapshot): string => {
      const machine = new KvMachine();
      machine.restore(encodeMachineSnapshot(snapshot));
      return machine.digest();
    };
    const item = base.items[0];
    const member = base.members[0];
    const record = base.idempotency[0];
    if (item === undefined || member === undefined || record === undefined) throw new Error('fixture');
    const variants: MachineSnapshot[] = [
      { ...base, appliedIndex: 11 },
      { ...base, items: [{ ...item, key: 'b' }] },
      { ...base, items: [{ ...item, value: bytes('onf') }] },
      { ...base, items: [{ ...item, value: new Uint8Array(0) }] },
      { ...base, items: [{ ...item, modIndex: 2 }] },
      { ...base, items: [] },
      { ...base, members: [{ ...member, id: 'n2' }] },
      { ...base, members: [{ ...member, address: 'h1:2' }] },
      { ...base, members: [{ ...member, kind: 'learner' }] },
      { ...base, members: [] },
      { ...base, idempotency: [{ ...record, key: 'r2' }] },
      { ...base, idempotency: [{ ...record, index: 5 }] },
      { ...base, idempotency: [{ ...record, existed: false }] },
      { ...base, idempotency: [{ ...record, kind: 'put' }] },
      { ...base, idempotency: [] },
    ];
    const digests = new Set([digestOf(base), ...variants.map(digestOf)]);
    expect(digests.size).toBe(variants.length + 1);
    expect(digestOf(base)).toBe(digestOf(base));
  });
});

describe('KvMachine snapshot in slices', () => {
  it('gives the bytes of the state it captured, whatever is applied between its slices', () => {
    const machine = new KvMachine({ idempotencyKeysMax: 5000 });
    let index = 0;
    for (let i = 0; i < 6000; i++) machine.applyCommand(++index, putCmd(`key${i}`, `v${i}`, `w${i}`));
    machine.applyConfChange(++index, change(ConfChangeType.AddVoter, 'n1', '127.0.0.1:7001'));
    const expected = machine.snapshot();
    const slices = machine.snapshotInSlices();
    let yielded = 0;
    const rng = new SeededRng(7);
    for (;;) {
      const step = slices.next();
      if (step.done === true) {
        expect(Buffer.from(step.value).equals(Buffer.from(expected))).toBe(true);
        break;
      }
      yielded++;
      // Between two slices: values replaced, keys deleted and added (new sorted arrays), old idempotency keys evicted, members changed.
      for (let i = 0; i < 50; i++) {
        const k = rng.intBelow(7000);
        const roll = rng.intBelow(3);
        if (roll === 0) machine.applyCommand(++index, putCmd(`key${k}`, `changed${index}`, `x${index}`));
        else if (roll === 1) machine.applyCommand(++index, deleteCmd(`key${k}`, `x${index}`));
        else machine.applyCommand(++index, putCmd(`new${index}`, 'n', `x${index}`));
      }
      machine.applyConfChange(++index, change(ConfChangeType.RemoveNode, 'n1'));
    }
    expect(yielded).toBeGreaterThan(4);
    const restored = new KvMachine({ idempotencyKeysMax: 5000 });
    restored.restore(expected);
    expect(restored.get('key5999')).toMatchObject({ modIndex: 6000 });
    expect(machine.snapshot()).not.toEqual(expected);
  });

  it('is the same bytes as snapshot() with the orchestrator extension, which is encoded at the capture', () => {
    const machine = new KvMachine({ extension: new Orchestrator() });
    const { payload, deflated } = encodeOrchCommand({ type: 'submit-run', runId: 'r1', submission: { name: 'n', setup: [], setupCacheKey: '', sourceDir: '/', tasks: [] } });
    machine.applyCommand(1, encodeCommand({ idempotencyKey: 'run:r1', proposedAtMs: 5, op: { type: 'orch', payload, deflated } }));
    const expected = machine.snapshot();
    const slices = machine.snapshotInSlices();
    const { payload: p2, deflated: d2 } = encodeOrchCommand({ type: 'submit-run', runId: 'r2', submission: { name: 'n', setup: [], setupCacheKey: '', sourceDir: '/', tasks: [] } });
    machine.applyCommand(2, encodeCommand({ idempotencyKey: 'run:r2', proposedAtMs: 6, op: { type: 'orch', payload: p2, deflated: d2 } }));
    let step = slices.next();
    while (step.done !== true) step = slices.next();
    expect(Buffer.from(step.value).equals(Buffer.from(expected))).toBe(true);
  });
});

describe('KvMachine at bench size', () => {
  // The rates (puts/s, pages/s) are measured by `testudo bench kv-machine` (bench/kv-machine.ts), not asserted here.
  it('applies 20k puts of 256-byte values, each on its own key, and pages through them in 200 pages', () => {
    const result = runKvMachineBench({ puts: 20_000, valueBytes: 256, pageSize: 100 });
    expect(result).toMatchObject({ puts: 20_000, pages: 200 });
  });
});

describe('KvMachine with the orchestrator extension', () => {
  const orchCmd = (command: OrchCommand, idempotencyKey: string): Uint8Array => {
    const { payload, deflated } = encodeOrchCommand(command);
    return encodeCommand({ idempotencyKey, proposedAtMs: 5, op: { type: 'orch', payload, deflated } });
  };
  const sub = { name: 'n', setup: [], setupCacheKey: '', sourceDir: '/', tasks: [] };

  it('leaves the idempotency key of a refused command free for a corrected retry', () => {
    const machine = new KvMachine({ extension: new Orchestrator() });
    const refused = machine.applyCommand(1, orchCmd({ type: 'submit-run', runId: 'bad id!', submission: sub }, 'run:r1'));
    expect(refused.ok).toBe(false);
    const applied = machine.applyCommand(2, orchCmd({ type: 'submit-run', runId: 'r1', submission: sub }, 'run:r1'));
    expect(applied).toMatchObject({ ok: true, kind: 'orch', duplicate: false, value: { runId: 'r1', tasks: 0 } });
    const again = machine.applyCommand(3, orchCmd({ type: 'submit-run', runId: 'r1', submission: sub }, 'run:r1'));
    expect(again).toMatchObject({ ok: true, kind: 'orch', duplicate: true, index: 2 });
  });

  it('carries the orchestrator state in its snapshot and digest', () => {
    const a = new KvMachine({ extension: new Orchestrator() });
    a.applyCommand(1, orchCmd({ type: 'submit-run', runId: 'r1', submission: sub }, ''));
    const b = new KvMachine({ extension: new Orchestrator() });
    expect(b.digest()).not.toBe(a.digest());
    b.restore(a.snapshot());
    expect(b.digest()).toBe(a.digest());
    expect(() => new KvMachine().restore(a.snapshot())).toThrow(/no orchestrator/);
  });
});

describe('KvMachine put batches (Kv.PutMany)', () => {
  const batchCmd = (puts: { key: string; value: string; idempotencyKey: string }[]): Uint8Array =>
    encodeCommand({ idempotencyKey: '', proposedAtMs: 1000, op: { type: 'put-batch', puts: puts.map((p) => ({ ...p, value: bytes(p.value) })) } });

  it('applies every write at the entry index, in order, and answers each', () => {
    const machine = new KvMachine();
    const result = machine.applyCommand(
      4,
      batchCmd([
        { key: 'a', value: 'one', idempotencyKey: 'w1' },
        { key: 'b', value: 'two', idempotencyKey: 'w2' },
        { key: 'a', value: 'three', idempotencyKey: 'w3' },
      ]),
    );
    expect(result).toEqual({
      ok: true,
      kind: 'put-batch',
      index: 4,
      duplicate: false,
      results: [
        { ok: true, index: 4, duplicate: false },
        { ok: true, index: 4, duplicate: false },
        { ok: true, index: 4, duplicate: false },
      ],
    });
    // The later write to the same key wins.
    expect(machine.get('a')).toEqual({ key: 'a', value: bytes('three'), modIndex: 4 });
    expect(valueText(machine, 'b')).toBe('two');
    expect(machine.list().items.map((i) => i.key)).toEqual(['a', 'b']);
  });

  it('remembers each write\'s idempotency key through a snapshot, as a put', () => {
    const batched = new KvMachine();
    batched.applyCommand(1, batchCmd([{ key: 'x', value: '1', idempotencyKey: 'k1' }, { key: 'y', value: '2', idempotencyKey: 'k2' }]));
    const restored = new KvMachine();
    restored.restore(batched.snapshot());
    expect(restored.digest()).toBe(batched.digest());
    expect(restored.idempotencyKeyCount).toBe(2);
    // A lone retry of a batched write is a duplicate with the batch's index.
    expect(restored.applyCommand(2, putCmd('x', 'changed', 'k1'))).toEqual({ ok: true, kind: 'put', index: 1, duplicate: true });
    expect(valueText(restored, 'x')).toBe('1');
  });

  it('answers a retried batch write as a duplicate, and refuses alone a write whose key was used for a delete', () => {
    const machine = new KvMachine();
    machine.applyCommand(1, putCmd('a', 'one', 'p1'));
    machine.applyCommand(2, deleteCmd('gone', 'd1'));
    const result = machine.applyCommand(
      3,
      batchCmd([
        { key: 'a', value: 'changed', idempotencyKey: 'p1' },
        { key: 'b', value: 'new', idempotencyKey: 'd1' },
        { key: 'c', value: 'fresh', idempotencyKey: 'p3' },
        { key: 'c', value: 'again', idempotencyKey: 'p3' },
      ]),
    );
    expect(result).toEqual({
      ok: true,
      kind: 'put-batch',
      index: 3,
      duplicate: false,
      results: [
        { ok: true, index: 1, duplicate: true },
        { ok: false, message: 'idempotency key "d1" was first used for a delete at index 2, not a put' },
        { ok: true, index: 3, duplicate: false },
        { ok: true, index: 3, duplicate: true },
      ],
    });
    expect(valueText(machine, 'a')).toBe('one');
    expect(machine.get('b')).toBeUndefined();
    expect(valueText(machine, 'c')).toBe('fresh');
  });

  it('refuses a batch that breaks a limit as a whole, on every replica alike, writing nothing', () => {
    const machine = new KvMachine();
    // Encoded without encodeCommand's checks (it refuses this): a batch whose second write has no idempotency key.
    const bad = testudoProtoRoot()
      .lookupType('testudo.v1.Command')
      .encode({ putBatch: { puts: [{ key: 'a', value: bytes('1'), idempotencyKey: 'k1' }, { key: 'b', value: bytes('2') }] } })
      .finish();
    expect(machine.applyCommand(1, bad)).toEqual({ ok: false, error: 'invalid', index: 1, message: 'invalid puts[1].idempotency_key: is required in a batch' });
    expect(machine.get('a')).toBeUndefined();
    expect(machine.idempotencyKeyCount).toBe(0);
  });
});
