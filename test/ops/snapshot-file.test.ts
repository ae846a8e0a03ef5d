import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { encodeCommand } from '../../src/coordinator/codec.js';
import { deriveClusterId } from '../../src/coordinator/config.js';
import { KvMachine } from '../../src/coordinator/kv-machine.js';
import { encodeOrchCommand, type OrchCommand } from '../../src/coordinator/orchestrator/commands.js';
import { Orchestrator } from '../../src/coordinator/orchestrator/state.js';
import {
  decodeSnapshotFile,
  encodeSnapshotFile,
  readSnapshotFile,
  sha256Hex,
  snapshotFileVersion,
  SnapshotFileError,
  writeFileAtomic,
  type SnapshotFileHeader,
} from '../../src/coordinator/snapshot-file.js';
import { restoreDataDir, RestoreTargetError } from '../../src/coordinator/snapshot-restore.js';
import { DurableFile } from '../../src/raft/storage/durable-file.js';
import { LevelDbStorage } from '../../src/raft/index.js';
import { submission, template } from '../coordinator/orchestrator-fixtures.js';

/**
 * The snapshot file format and the data directory a restore writes, without
 * a cluster: a real state machine's state, real LevelDB, the real CLI entry
 * point in-process. The cluster round trip is in snapshot-restore.test.ts.
 */

const orchCmd = (command: OrchCommand, idempotencyKey: string): Uint8Array => {
  const { payload, deflated } = encodeOrchCommand(command);
  return encodeCommand({ idempotencyKey, proposedAtMs: 5_000, op: { type: 'orch', payload, deflated } });
};

/** A machine with kv items, an idempotency record and one submitted run of two tasks. */
function sampleState(): { data: Uint8Array; index: number } {
  const machine = new KvMachine({ extension: new Orchestrator() });
  machine.applyCommand(1, encodeCommand({ idempotencyKey: 'c-1', proposedAtMs: 1_000, op: { type: 'put', key: 'ops/greeting', value: Buffer.from('hello') } }));
  machine.applyCommand(2, encodeCommand({ idempotencyKey: '', proposedAtMs: 1_000, op: { type: 'put', key: 'ops/other', value: Buffer.from('x') } }));
  const run = machine.applyCommand(3, orchCmd({ type: 'submit-run', runId: 'r-snap', submission: submission([template({ shard: 1, shardCount: 2 }), template({ shard: 2, shardCount: 2 })]) }, 'run:r-snap'));
  if (!run.ok) throw new Error(`sample run refused: ${run.message}`);
  return { data: machine.snapshot(), index: machine.appliedIndex };
}

function headerFor(data: Uint8Array, index: number, over: Partial<SnapshotFileHeader> = {}): SnapshotFileHeader {
  return {
    formatVersion: snapshotFileVersion,
    clusterId: 'old-cluster',
    index,
    term: 7,
    savedAtMs: 1_700_000_000_000,
    servedBy: 'n1',
    leaderId: 'n1',
    testudoVersion: '0.0.0-test',
    dataBytes: data.byteLength,
    dataSha256: sha256Hex(data),
    ...over,
  };
}

describe('snapshot file', () => {
  let dir = '';
  const state = sampleState();
  const bytes = encodeSnapshotFile(headerFor(state.data, state.index), state.data);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testudo-snapfile-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips the header and the data, and counts what the state holds', async () => {
    const path = join(dir, 'ok.snap');
    await writeFileAtomic(path, bytes);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp'))).toEqual([]);
    const read = await readSnapshotFile(path);
    expect(read.header).toMatchObject({ clusterId: 'old-cluster', index: 3, term: 7, dataBytes: state.data.byteLength });
    expect(Buffer.from(read.data).equals(Buffer.from(state.data))).toBe(true);
    expect(read.contents).toMatchObject({ appliedIndex: 3, keys: 2, idempotencyKeys: 2, runs: 1, runsByState: { running: 1 }, workers: 0 });
  });

  it('refuses every single-byte change, anywhere in the file', () => {
    // Every byte of a small file: magic, version, header, data, trailing hash.
    const refused: string[] = [];
    for (let i = 0; i < bytes.byteLength; i++) {
      const bad = Buffer.from(bytes);
      bad[i] = bad[i]! ^ 0x01;
      try {
        decodeSnapshotFile(bad, 'bad.snap');
      } catch (error) {
        expect(error).toBeInstanceOf(SnapshotFileError);
        refused.push((error as Error).message);
        continue;
      }
      throw new Error(`a change of byte ${i} of ${bytes.byteLength} was accepted`);
    }
    expect(refused).toHaveLength(bytes.byteLength);
  });

  it('refuses a truncated file at any length, and one with bytes appended, naming the problem', () => {
    for (let length = 0; length < bytes.byteLength; length += 7) {
      expect(() => decodeSnapshotFile(bytes.subarray(0, length), 'cut.snap')).toThrow(SnapshotFileError);
    }
    expect(() => decodeSnapshotFile(bytes.subarray(0, bytes.byteLength - 1), 'cut.snap')).toThrow(/truncated/);
    expect(() => decodeSnapshotFile(Buffer.concat([bytes, Buffer.from([0])]), 'long.snap')).toThrow(/more than its header accounts for/);
    expect(() => decodeSnapshotFile(Buffer.from('not a snapshot at all, just some text that is long enough'), 'text.snap')).toThrow(/wrong magic/);
  });

  it('refuses a file whose hashes match but whose state does not decode', async () => {
    const garbage = Buffer.from('this is not a MachineSnapshot');
    const path = join(dir, 'garbage.snap');
    await writeFile(path, encodeSnapshotFile(headerFor(garbage, 3), garbage));
    await expect(readSnapshotFile(path)).rejects.toThrow(/does not restore/);
    const wrongIndex = join(dir, 'wrong-index.snap');
    await writeFile(wrongIndex, encodeSnapshotFile(headerFor(state.data, 9), state.data));
    await expect(readSnapshotFile(wrongIndex)).rejects.toThrow(/at index 3, but its header says 9/);
  });
});

describe('snapshot restore into a data directory', () => {
  let dir = '';
  let file = '';
  const state = sampleState();
  const peers = new Map([
    ['a1', '127.0.0.1:17101'],
    ['a2', '127.0.0.1:17102'],
    ['a3', '127.0.0.1:17103'],
  ]);
  const peersFlag = [...peers].map(([id, address]) => `${id}=${address}`).join(',');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testudo-restore-'));
    file = join(dir, 'state.snap');
    await writeFile(file, encodeSnapshotFile(headerFor(state.data, state.index), state.data));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes raft/ (snapshot, hard state, durable record) and cluster.json that a node opens cleanly, with the new members', async () => {
    const target = join(dir, 'a1');
    const { header, data } = await readSnapshotFile(file);
    const result = await restoreDataDir(header, data, { dataDir: target, nodeId: 'a1', peers, clusterId: 'new-cluster', path: file });
    expect(result).toMatchObject({ index: 3, term: 7, clusterId: 'new-cluster' });
    expect(JSON.parse(await readFile(join(target, 'cluster.json'), 'utf8'))).toEqual({ clusterId: 'new-cluster', nodeId: 'a1' });
    expect(await DurableFile.read(join(target, 'raft'))).toMatchObject({ term: 7, vote: '', lastIndex: 3, lastTerm: 7 });
    // Opened the way a coordinator opens it: the durable check refuses anything inconsistent.
    const storage = await LevelDbStorage.open(join(target, 'raft'), { nodeId: 'a1', durableCheck: 'refuse' });
    try {
      expect(storage.initialState()).toEqual({ hardState: { term: 7, vote: '', commit: 3 }, confState: { voters: ['a1', 'a2', 'a3'], learners: [] } });
      expect(storage.firstIndex()).toBe(4);
      expect(storage.lastIndex()).toBe(3);
      const machine = new KvMachine({ extension: new Orchestrator() });
      machine.restore(storage.snapshot().data);
      expect(machine.members()).toEqual([...peers].map(([id, address]) => ({ id, address, kind: 'voter' })));
      expect(Buffer.from(machine.get('ops/greeting')!.value).toString()).toBe('hello');
    } finally {
      await storage.close();
    }
    expect((await readdir(dir)).filter((n) => n.includes('.restore-'))).toEqual([]);
  });

  it('never overwrites: a non-empty target is refused and left as it was', async () => {
    const target = join(dir, 'used');
    await mkdir(target);
    await writeFile(join(target, 'keep.txt'), 'mine');
    const { header, data } = await readSnapshotFile(file);
    await expect(restoreDataDir(header, data, { dataDir: target, nodeId: 'a1', peers, clusterId: 'new-cluster', path: file })).rejects.toThrow(RestoreTargetError);
    expect(await readdir(target)).toEqual(['keep.txt']);
  });

  it('the CLI: exit 3 for a damaged or truncated file, writing nothing; exit 2 for usage; exit 0 and JSON for a good one', async () => {
    const original = await readFile(file);
    const damaged = join(dir, 'damaged.snap');
    const flipped = Buffer.from(original);
    flipped[flipped.byteLength >> 1] = flipped[flipped.byteLength >> 1]! ^ 0xff;
    await writeFile(damaged, flipped);
    const truncated = join(dir, 'truncated.snap');
    await writeFile(truncated, original.subarray(0, original.byteLength - 100));
    for (const bad of [damaged, truncated]) {
      const target = join(dir, `from-${bad.split('/').pop()}`);
      const err: string[] = [];
      const code = await main(['snapshot', 'restore', bad, '--data-dir', target, '--id', 'a1', '--peers', peersFlag], () => undefined, (t) => err.push(t));
      expect(code, err.join('')).toBe(3);
      expect(err.join('')).toMatch(/refusing .*nothing was written/);
      await expect(readdir(target)).rejects.toThrow(/ENOENT/);
      expect((await readdir(dir)).filter((n) => n.includes('.restore-'))).toEqual([]);
    }
    const usage = async (args: string[], from = file): Promise<number> => main(['snapshot', 'restore', from, ...args], () => undefined, () => undefined);
    expect(await usage(['--data-dir', join(dir, 'u0'), '--id', 'a1', '--peers', peersFlag], join(dir, 'missing.snap'))).toBe(2);
    await expect(readdir(join(dir, 'u0'))).rejects.toThrow(/ENOENT/);
    expect(await usage(['--data-dir', join(dir, 'u1'), '--id', 'zz', '--peers', peersFlag])).toBe(2);
    expect(await usage(['--data-dir', join(dir, 'u2'), '--id', 'a1', '--peers', 'a1=nohost'])).toBe(2);
    expect(await usage(['--data-dir', join(dir, 'u3'), '--id', 'a1', '--peers', peersFlag, '--cluster-id', 'old-cluster'])).toBe(2);
    const out: string[] = [];
    const ok = await main(['snapshot', 'restore', file, '--data-dir', join(dir, 'a2'), '--id', 'a2', '--peers', peersFlag], (t) => out.push(t), () => undefined);
    expect(ok).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ nodeId: 'a2', index: 3, clusterId: deriveClusterId(peers), fromClusterId: 'old-cluster' });
    const inspect: string[] = [];
    expect(await main(['snapshot', 'inspect', file], (t) => inspect.push(t), () => undefined)).toBe(0);
    expect(JSON.parse(inspect.join(''))).toMatchObject({ index: 3, runs: 1, keys: 2 });
    expect(await main(['snapshot', 'inspect', damaged], () => undefined, () => undefined)).toBe(3);
  });
});
