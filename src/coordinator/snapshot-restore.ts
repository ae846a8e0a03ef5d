import { mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { assert, LevelDbStorage, NO_NODE, type Snapshot } from '../raft/index.js';
import { decodeMachineSnapshot, encodeMachineSnapshot, type Member } from './codec.js';
import { compareKeys } from './kv-machine.js';
import { checkMachineData, syncDirectory, type SnapshotFileHeader } from './snapshot-file.js';

/**
 * Writes a fresh data directory for one member of a NEW cluster from a saved
 * snapshot (disaster recovery, like `etcdutl snapshot restore`). Every member
 * of the new cluster is restored from the same file with the same `peers`;
 * they then start with `testudo coordinator --peers …` as founders would.
 *
 * What the directory holds, so that a coordinator starts on it cleanly:
 * - `raft/`: LevelDB holding one snapshot at the saved index and term, whose
 *   configuration is the new members (all voters) and whose state is the
 *   saved one with its member list replaced by the new members; an empty log
 *   after it; hard state {term, no vote, commit = index}. It is written
 *   through LevelDbStorage itself, so the durable record (`raft/DURABLE`)
 *   matches it: term, last index and last term = the snapshot's.
 * - `cluster.json`: {clusterId, nodeId}, what the coordinator checks on
 *   every start (src/coordinator/coordinator.ts, checkClusterFile).
 *
 * The new cluster starts at the saved term with every member's log ending at
 * the same index: any of them can win the first election, and the first
 * leader's entries follow the snapshot. The founding AddVoter entries that a
 * new cluster writes are not needed: membership lives in the snapshot.
 *
 * The directory is built under a temporary name beside `dataDir`, synced, and
 * renamed into place, so a failed restore leaves no half-written `dataDir`.
 */
export interface RestoreOptions {
  readonly dataDir: string;
  readonly nodeId: string;
  /** Every member of the new cluster: id → gRPC address. */
  readonly peers: ReadonlyMap<string, string>;
  readonly clusterId: string;
  /** For messages. */
  readonly path: string;
}

export interface RestoreResult {
  readonly dataDir: string;
  readonly nodeId: string;
  readonly clusterId: string;
  readonly index: number;
  readonly term: number;
  readonly members: readonly Member[];
}

/** The target data directory is in use (not empty) or cannot be replaced. */
export class RestoreTargetError extends Error {
  override readonly name = 'RestoreTargetError';
}

export async function restoreDataDir(header: SnapshotFileHeader, data: Uint8Array, options: RestoreOptions): Promise<RestoreResult> {
  assert(options.peers.has(options.nodeId), `node ${options.nodeId} is not among the new members`);
  await refuseUsedTarget(options.dataDir);
  const members = [...options.peers]
    .map(([id, address]): Member => ({ id, address, kind: 'voter' }))
    .sort((a, b) => compareKeys(a.id, b.id));
  const state = rewriteMembers(data, members);
  // The rewritten state must restore exactly as the saved one did.
  checkMachineData(state, header.index, options.path);
  const tmp = join(dirname(options.dataDir), `.${basename(options.dataDir)}.restore-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    await mkdir(tmp, { recursive: true });
    await writeRaftDir(join(tmp, 'raft'), options.nodeId, header, members, state);
    await writeClusterFile(tmp, options.clusterId, options.nodeId);
    await syncDirectory(tmp);
    await rename(tmp, options.dataDir).catch((error: NodeJS.ErrnoException) => {
      throw new RestoreTargetError(`cannot move the restored directory into ${options.dataDir}: ${error.message} (restore into a directory that does not exist yet, or an empty one that is not a mount point)`, { cause: error });
    });
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
  await syncDirectory(dirname(options.dataDir));
  return { dataDir: options.dataDir, nodeId: options.nodeId, clusterId: options.clusterId, index: header.index, term: header.term, members };
}

/** A restore never overwrites anything: the target must not exist or be empty. */
async function refuseUsedTarget(dataDir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dataDir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    throw new RestoreTargetError(`cannot use ${dataDir} as the data directory: ${(error as Error).message}`, { cause: error });
  }
  if (names.length > 0) {
    throw new RestoreTargetError(`data directory ${dataDir} is not empty (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}); a restore writes a fresh directory and never overwrites one: move it aside or pick another`);
  }
}

/** The saved state with its member list replaced by the new cluster's members. */
function rewriteMembers(data: Uint8Array, members: readonly Member[]): Uint8Array {
  const saved = decodeMachineSnapshot(data);
  return encodeMachineSnapshot({ ...saved, members });
}

async function writeRaftDir(dir: string, nodeId: string, header: SnapshotFileHeader, members: readonly Member[], state: Uint8Array): Promise<void> {
  const storage = await LevelDbStorage.open(dir, { nodeId });
  try {
    const snapshot: Snapshot = {
      metadata: { index: header.index, term: header.term, confState: { voters: members.map((m) => m.id), learners: [] } },
      data: state,
    };
    await storage.save({ hardState: { term: header.term, vote: NO_NODE, commit: header.index }, entries: [], snapshot });
    assert(storage.lastIndex() === header.index && storage.snapshot().metadata.index === header.index, 'restored storage does not end at the snapshot');
  } finally {
    await storage.close();
  }
  await syncDirectory(dir);
}

async function writeClusterFile(dir: string, clusterId: string, nodeId: string): Promise<void> {
  const path = join(dir, 'cluster.json');
  await writeFile(path, JSON.stringify({ clusterId, nodeId }) + '\n');
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
