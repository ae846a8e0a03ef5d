import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';

import { protoPath } from '../../src/common/protos.js';
import {
  CommandDecodeError,
  decodeCommand,
  decodeMachineSnapshot,
  decodeMemberContext,
  encodeCommand,
  encodeMachineSnapshot,
  encodeMemberContext,
  machineSnapshotFormatVersion,
  MemberContextDecodeError,
  putBatchWritesMax,
  SnapshotDecodeError,
  validateCommand,
  type Command,
  type MachineSnapshot,
} from '../../src/coordinator/codec.js';
import {
  commandBytesMax,
  idempotencyKeyBytesMax,
  InvalidArgumentError,
  keyBytesMax,
  memberAddressBytesMax,
  resolveListLimit,
  listLimitDefault,
  listLimitMax,
  validateIdempotencyKey,
  validateKey,
  validateKeyBound,
  validateMemberAddress,
  validateValue,
  valueBytesMax,
} from '../../src/coordinator/limits.js';
import { encodeMachineSnapshotSlices, scanMachineSnapshotWire } from '../../src/coordinator/snapshot-wire.js';

const root = protobuf.loadSync(protoPath('testudo.proto'));
const RawCommand = root.lookupType('testudo.v1.Command');
const RawSnapshot = root.lookupType('testudo.v1.MachineSnapshot');
const raw = (type: protobuf.Type, message: Record<string, unknown>): Uint8Array => type.encode(message).finish();

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe('command codec', () => {
  const cases: Command[] = [
    { idempotencyKey: 'req-1', proposedAtMs: 1_700_000_000_000, op: { type: 'put', key: 'a/b', value: bytes(1, 2, 3) } },
    { idempotencyKey: '', proposedAtMs: 0, op: { type: 'put', key: 'empty-value', value: new Uint8Array(0) } },
    { idempotencyKey: 'ü', proposedAtMs: Number.MAX_SAFE_INTEGER, op: { type: 'delete', key: 'ключ😀' } },
    { idempotencyKey: '', proposedAtMs: 5, op: { type: 'noop' } },
    {
      idempotencyKey: '',
      proposedAtMs: 9,
      op: {
        type: 'put-batch',
        puts: [
          { key: 'a', value: bytes(1), idempotencyKey: 'w1' },
          { key: 'a', value: new Uint8Array(0), idempotencyKey: 'w2' },
        ],
      },
    },
  ];

  it.each(cases)('round-trips %#', (cmd) => {
    const back = decodeCommand(encodeCommand(cmd));
    expect(back).toEqual(cmd);
  });

  it('gives values that do not share memory with the input', () => {
    const data = encodeCommand({ idempotencyKey: '', proposedAtMs: 1, op: { type: 'put', key: 'k', value: bytes(7, 7) } });
    const back = decodeCommand(data);
    data.fill(0);
    expect(back.op).toEqual({ type: 'put', key: 'k', value: bytes(7, 7) });
  });

  it('encodes equal commands to equal bytes, leaving defaults out', () => {
    const a = encodeCommand({ idempotencyKey: '', proposedAtMs: 0, op: { type: 'noop' } });
    const b = encodeCommand({ idempotencyKey: '', proposedAtMs: 0, op: { type: 'noop' } });
    expect(a).toEqual(b);
    expect([...a]).toEqual([0x62, 0x00]); // field 12 (noop), empty
  });

  it('refuses to encode a command that breaks a limit', () => {
    const put = (key: string, value = new Uint8Array(0), idempotencyKey = ''): Command => ({ idempotencyKey, proposedAtMs: 1, op: { type: 'put', key, value } });
    expect(() => encodeCommand(put(''))).toThrow(InvalidArgumentError);
    expect(() => encodeCommand(put('x'.repeat(keyBytesMax + 1)))).toThrow(/key/);
    expect(() => encodeCommand(put('k', new Uint8Array(valueBytesMax + 1)))).toThrow(/value/);
    expect(() => encodeCommand(put('k', undefined, 'i'.repeat(idempotencyKeyBytesMax + 1)))).toThrow(/idempotency_key/);
    expect(() => encodeCommand({ idempotencyKey: '', proposedAtMs: -1, op: { type: 'noop' } })).toThrow(/proposed_at_ms/);
    expect(() => encodeCommand({ idempotencyKey: '', proposedAtMs: 1.5, op: { type: 'noop' } })).toThrow(/proposed_at_ms/);
  });

  it('encodes the largest valid command within commandBytesMax', () => {
    const cmd: Command = {
      idempotencyKey: 'i'.repeat(idempotencyKeyBytesMax),
      proposedAtMs: Number.MAX_SAFE_INTEGER,
      op: { type: 'put', key: 'k'.repeat(keyBytesMax), value: new Uint8Array(valueBytesMax) },
    };
    const data = encodeCommand(cmd);
    expect(data.byteLength).toBeLessThanOrEqual(commandBytesMax);
    const back = decodeCommand(data);
    // toEqual walks a 1 MiB array element by element; compare the bytes natively.
    expect(back.op.type === 'put' && cmd.op.type === 'put' && Buffer.compare(back.op.value, cmd.op.value) === 0).toBe(true);
    expect({ ...back, op: { ...back.op, value: null } }).toEqual({ ...cmd, op: { ...cmd.op, value: null } });
  });

  it('throws CommandDecodeError on malformed bytes', () => {
    expect(() => decodeCommand(bytes(0xff, 0xff, 0xff))).toThrow(CommandDecodeError);
    expect(() => decodeCommand(bytes(0x0a, 5, 1))).toThrow(/malformed Command: cannot decode 3 bytes/);
  });

  it('throws on a command with no op or with two', () => {
    expect(() => decodeCommand(new Uint8Array(0))).toThrow(/no op/);
    expect(() => decodeCommand(raw(RawCommand, { idempotencyKey: 'k' }))).toThrow(CommandDecodeError);
    const two = new Uint8Array([...raw(RawCommand, { put: { key: 'a' } }), ...raw(RawCommand, { noop: {} })]);
    expect(() => decodeCommand(two)).toThrow(/more than one op/);
  });

  it('throws on a uint64 beyond 2^53 - 1 and accepts 2^53 - 1', () => {
    expect(() => decodeCommand(raw(RawCommand, { proposedAtMs: '9007199254740992', noop: {} }))).toThrow(/proposed_at_ms exceeds/);
    expect(decodeCommand(raw(RawCommand, { proposedAtMs: '9007199254740991', noop: {} })).proposedAtMs).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('throws on data larger than commandBytesMax', () => {
    expect(() => decodeCommand(new Uint8Array(commandBytesMax + 1))).toThrow(/limit/);
  });

  it('refuses a put batch that breaks a limit, naming the write', () => {
    const batch = (puts: { key: string; value?: Uint8Array; idempotencyKey: string }[], idempotencyKey = ''): Command => ({
      idempotencyKey,
      proposedAtMs: 1,
      op: { type: 'put-batch', puts: puts.map((p) => ({ key: p.key, value: p.value ?? bytes(1), idempotencyKey: p.idempotencyKey })) },
    });
    expect(() => encodeCommand(batch([]))).toThrow('invalid put_batch.puts: is empty');
    expect(() => encodeCommand(batch([{ key: 'a', idempotencyKey: 'w1' }], 'outer'))).toThrow(/idempotency_key: must be empty on a put batch/);
    expect(() => encodeCommand(batch([{ key: 'a', idempotencyKey: 'w1' }, { key: '', idempotencyKey: 'w2' }]))).toThrow('invalid puts[1].key: must not be empty');
    expect(() => encodeCommand(batch([{ key: 'a', idempotencyKey: '' }]))).toThrow('invalid puts[0].idempotency_key: is required in a batch');
    expect(() => encodeCommand(batch([{ key: 'a', value: new Uint8Array(valueBytesMax + 1), idempotencyKey: 'w' }]))).toThrow(/puts\[0\]\.value/);
    const many = Array.from({ length: putBatchWritesMax + 1 }, (_, i) => ({ key: `k${i}`, idempotencyKey: `w${i}` }));
    expect(() => encodeCommand(batch(many))).toThrow(`holds ${putBatchWritesMax + 1} writes, limit ${putBatchWritesMax}`);
    // Every write within its limits, the whole beyond one entry: the caller's error, not an assertion.
    const big = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: new Uint8Array(valueBytesMax), idempotencyKey: `w${i}` }));
    expect(() => encodeCommand(batch(big))).toThrow(InvalidArgumentError);
    expect(() => encodeCommand(batch(big))).toThrow(/more than one log entry holds/);
  });

  it('decodes but flags a command that breaks a limit (the machine refuses it)', () => {
    const cmd = decodeCommand(raw(RawCommand, { put: { key: '' } }));
    expect(cmd.op).toEqual({ type: 'put', key: '', value: new Uint8Array(0) });
    expect(validateCommand(cmd)).toBe('invalid key: must not be empty');
  });
});

describe('member context codec', () => {
  it('round-trips, and an empty address is no bytes', () => {
    expect(decodeMemberContext(encodeMemberContext({ address: '127.0.0.1:7001' }))).toEqual({ address: '127.0.0.1:7001' });
    expect(encodeMemberContext({ address: '' }).byteLength).toBe(0);
    expect(decodeMemberContext(new Uint8Array(0))).toEqual({ address: '' });
  });

  it('refuses an address over the limit and malformed bytes', () => {
    expect(() => encodeMemberContext({ address: 'a'.repeat(memberAddressBytesMax + 1) })).toThrow(InvalidArgumentError);
    expect(encodeMemberContext({ address: 'a'.repeat(memberAddressBytesMax) }).byteLength).toBeGreaterThan(memberAddressBytesMax);
    expect(() => decodeMemberContext(bytes(0x0a, 9))).toThrow(MemberContextDecodeError);
  });
});

describe('machine snapshot codec', () => {
  const snapshot: MachineSnapshot = {
    formatVersion: machineSnapshotFormatVersion,
    appliedIndex: 42,
    items: [
      { key: 'a', value: bytes(1), modIndex: 3 },
      { key: 'b', value: new Uint8Array(0), modIndex: 40 },
    ],
    members: [
      { id: 'n1', address: '127.0.0.1:7001', kind: 'voter' },
      { id: 'n2', address: '', kind: 'learner' },
    ],
    idempotency: [
      { key: 'r1', index: 3, existed: false, kind: 'put' },
      { key: 'r2', index: 41, existed: true, kind: 'delete' },
    ],
    orchestrator: new Uint8Array(0),
  };

  it('round-trips', () => {
    expect(decodeMachineSnapshot(encodeMachineSnapshot(snapshot))).toEqual(snapshot);
  });

  it('round-trips an empty state', () => {
    const empty: MachineSnapshot = { formatVersion: 1, appliedIndex: 0, items: [], members: [], idempotency: [], orchestrator: new Uint8Array(0) };
    expect(decodeMachineSnapshot(encodeMachineSnapshot(empty))).toEqual(empty);
  });

  it('refuses another format version with a clear error', () => {
    const data = encodeMachineSnapshot({ ...snapshot, formatVersion: 2 });
    expect(() => decodeMachineSnapshot(data)).toThrow(SnapshotDecodeError);
    expect(() => decodeMachineSnapshot(data)).toThrow('malformed MachineSnapshot: format version 2; this build reads version 1 only');
    expect(() => decodeMachineSnapshot(new Uint8Array(0))).toThrow(/format version 0/);
  });

  it('refuses malformed bytes, unknown kinds and unsafe integers', () => {
    expect(() => decodeMachineSnapshot(bytes(0x1a, 50, 1))).toThrow(SnapshotDecodeError);
    const badMember = raw(RawSnapshot, { formatVersion: 1, members: [{ id: 'n1', kind: 'observer' }] });
    expect(() => decodeMachineSnapshot(badMember)).toThrow(/member 0 has kind "observer"/);
    const badRecord = raw(RawSnapshot, { formatVersion: 1, idempotency: [{ key: 'k', index: 1 }] });
    expect(() => decodeMachineSnapshot(badRecord)).toThrow(/idempotency record 0 has kind ""/);
    const bigIndex = raw(RawSnapshot, { formatVersion: 1, appliedIndex: '18446744073709551615' });
    expect(() => decodeMachineSnapshot(bigIndex)).toThrow(/applied_index exceeds/);
  });

  it('writes the same bytes as protobufjs (the hand-written encoder)', () => {
    const reference = (s: MachineSnapshot): Uint8Array => {
      const message: Record<string, unknown> = {
        formatVersion: s.formatVersion,
        items: s.items.map((i) => ({ key: i.key, ...(i.value.byteLength > 0 ? { value: i.value } : {}), ...(i.modIndex !== 0 ? { modIndex: i.modIndex } : {}) })),
        members: s.members.map((m) => ({ id: m.id, kind: m.kind, ...(m.address !== '' ? { address: m.address } : {}) })),
        idempotency: s.idempotency.map((r) => ({ key: r.key, kind: r.kind, ...(r.index !== 0 ? { index: r.index } : {}), ...(r.existed ? { existed: true } : {}) })),
      };
      if (s.appliedIndex !== 0) message['appliedIndex'] = s.appliedIndex;
      if (s.orchestrator.byteLength > 0) message['orchestrator'] = s.orchestrator;
      return raw(RawSnapshot, message);
    };
    const varied: MachineSnapshot = {
      formatVersion: machineSnapshotFormatVersion,
      appliedIndex: 2 ** 53 - 1,
      items: [
        { key: '', value: new Uint8Array(0), modIndex: 0 },
        { key: 'ключ-ü-😀', value: new Uint8Array(300).fill(7), modIndex: 2 ** 32 + 5 },
        { key: 'k'.repeat(200), value: bytes(0), modIndex: 127 },
        { key: 'x', value: bytes(1, 2), modIndex: 128 },
      ],
      members: snapshot.members,
      idempotency: [
        { key: 'r0', index: 0, existed: false, kind: 'noop' },
        { key: 'r-é', index: 16_384, existed: true, kind: 'delete' },
        { key: 'r'.repeat(130), index: 2 ** 40, existed: false, kind: 'orch' },
      ],
      orchestrator: new Uint8Array(200).fill(9),
    };
    for (const s of [snapshot, varied, { formatVersion: 0, appliedIndex: 0, items: [], members: [], idempotency: [], orchestrator: new Uint8Array(0) }]) {
      expect(Buffer.from(encodeMachineSnapshot(s)).equals(Buffer.from(reference(s)))).toBe(true);
      // In slices of one record each: a yield after every record of both passes, the same bytes.
      const slices = encodeMachineSnapshotSlices(s, 1);
      let yields = 0;
      let step = slices.next();
      for (; step.done !== true; step = slices.next()) yields++;
      expect(yields).toBe(2 * (s.items.length + s.idempotency.length));
      expect(Buffer.from(step.value).equals(Buffer.from(reference(s)))).toBe(true);
    }
    expect(decodeMachineSnapshot(encodeMachineSnapshot(varied))).toEqual(varied);
  });

  it('scans an encoded snapshot field by field and refuses malformed bytes', () => {
    const data = encodeMachineSnapshot(snapshot);
    expect(scanMachineSnapshotWire(data)).toEqual({ formatVersion: 1, appliedIndex: 42, items: 2, members: 2, idempotency: 2, orchestratorBytes: 0 });
    expect(() => scanMachineSnapshotWire(data.subarray(0, data.byteLength - 1))).toThrow(/runs past/);
    expect(() => scanMachineSnapshotWire(bytes(0x1a, 50, 1))).toThrow(/runs past the end/);
    expect(() => scanMachineSnapshotWire(bytes(0x3a, 0))).toThrow(/unexpected tag 58/);
    // A record whose inner field claims more bytes than the record holds.
    expect(() => scanMachineSnapshotWire(bytes(0x1a, 2, 0x0a, 5))).toThrow(/runs past its record/);
    expect(() => scanMachineSnapshotWire(bytes(0x1a, 2, 0x0d, 0))).toThrow(/wire type 5/);
  });
});

describe('input validation', () => {
  const expectInvalid = (fn: () => void, field: string): void => {
    try {
      fn();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).field).toBe(field);
      return;
    }
    expect.fail(`expected an InvalidArgumentError on ${field}`);
  };

  it('takes a key of exactly keyBytesMax bytes and refuses one more', () => {
    validateKey('k'.repeat(keyBytesMax));
    expectInvalid(() => validateKey('k'.repeat(keyBytesMax + 1)), 'key');
  });

  it('counts UTF-8 bytes, not characters', () => {
    validateKey('é'.repeat(keyBytesMax / 2)); // 2 bytes each
    expectInvalid(() => validateKey('é'.repeat(keyBytesMax / 2) + 'x'), 'key');
    validateKey('😀'.repeat(keyBytesMax / 4));
    expectInvalid(() => validateKey('😀'.repeat(keyBytesMax / 4 + 1)), 'key');
  });

  it('refuses an empty key, a NUL and a lone surrogate', () => {
    expectInvalid(() => validateKey(''), 'key');
    expectInvalid(() => validateKey('a\0b'), 'key');
    expectInvalid(() => validateKey('a\uD800b'), 'key');
    expectInvalid(() => validateKey('\uDC00'), 'key');
    expect(() => validateKey('')).toThrow('invalid key: must not be empty');
  });

  it('takes a value of exactly valueBytesMax bytes and refuses one more', () => {
    validateValue(new Uint8Array(0));
    validateValue(new Uint8Array(valueBytesMax));
    expectInvalid(() => validateValue(new Uint8Array(valueBytesMax + 1)), 'value');
  });

  it('takes an idempotency key of idempotencyKeyBytesMax bytes, or none', () => {
    validateIdempotencyKey('');
    validateIdempotencyKey('i'.repeat(idempotencyKeyBytesMax));
    expectInvalid(() => validateIdempotencyKey('i'.repeat(idempotencyKeyBytesMax + 1)), 'idempotency_key');
  });

  it('checks list bounds and member addresses', () => {
    validateKeyBound('', 'prefix');
    validateKeyBound('p'.repeat(keyBytesMax), 'prefix');
    expectInvalid(() => validateKeyBound('p'.repeat(keyBytesMax + 1), 'start_after'), 'start_after');
    validateMemberAddress('a'.repeat(memberAddressBytesMax));
    expectInvalid(() => validateMemberAddress('a'.repeat(memberAddressBytesMax + 1)), 'address');
  });

  it('resolves list limits', () => {
    expect(resolveListLimit(undefined)).toBe(listLimitDefault);
    expect(resolveListLimit(0)).toBe(listLimitDefault);
    expect(resolveListLimit(1)).toBe(1);
    expect(resolveListLimit(listLimitMax)).toBe(listLimitMax);
    expect(resolveListLimit(listLimitMax + 1)).toBe(listLimitMax);
    expectInvalid(() => resolveListLimit(-1), 'limit');
    expectInvalid(() => resolveListLimit(2.5), 'limit');
  });
});
