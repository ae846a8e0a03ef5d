import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import type { SavedSnapshot } from '../client/index.js';
import { testudoVersion } from '../common/version.js';
import { deriveClusterId, formatHostPort, parseHostPort } from '../coordinator/config.js';
import {
  checkMachineData,
  encodeSnapshotFile,
  readSnapshotFile,
  snapshotFileVersion,
  SnapshotFileError,
  writeFileAtomic,
  type SnapshotContents,
  type SnapshotFileHeader,
} from '../coordinator/snapshot-file.js';
import { restoreDataDir, RestoreTargetError } from '../coordinator/snapshot-restore.js';
import { connectionOf, withConnectOptions, withReachedCluster, type ConnectOptions } from './connect.js';
import { ExitCode, ExitError, UsageError } from './errors.js';
import { quoted } from './flags.js';
import type { CliIo, Write } from './io.js';

/** Exit code for a damaged snapshot file (the CLI's "damaged data"). */
const exitUnreachableOrDamaged = ExitCode.unavailable;
/** How long the leader may take to send its state, once the cluster was reached within --wait. */
const saveTimeoutMs = 60_000;
const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const clusterIdPattern = /^[A-Za-z0-9._-]{1,64}$/;


interface RestoreFlags {
  dataDir: string;
  id: string;
  peers: string;
  clusterId?: string;
}

/**
 * `testudo snapshot save|restore|inspect`: a copy of a running cluster's
 * replicated state, and a fresh data directory for each member of a new
 * cluster made from it (docs/operations.md, "Snapshots and disaster recovery").
 */
export function registerSnapshotCommands(program: Command, io: CliIo): void {
  const write = io.out;
  const writeErr = io.err;
  const snapshot = program.command('snapshot').description("save a copy of a running cluster's replicated state, or restore one into a new cluster");
  withConnectOptions(
    snapshot
      .command('save')
      .description('save a linearizable copy of the replicated state (runs, history, workers, breakers, kv) to a file, atomically; exit 3 when the cluster cannot be reached')
      .argument('<file>', 'the snapshot file to write (replaced atomically)'),
  ).action(async (file: string, options: ConnectOptions) => {
      const saved = await fetchSnapshot(options, writeErr);
      const header = headerOf(saved);
      const contents = checkedContents(() => checkMachineData(saved.data, header.index, file), writeErr, 'the cluster sent a state that does not restore');
      const bytes = encodeSnapshotFile(header, saved.data);
      await writeFileAtomic(file, bytes);
      write(`${JSON.stringify({ file, fileBytes: bytes.byteLength, ...summaryOf(header, contents) })}\n`);
    });
  snapshot
    .command('inspect')
    .description('check a snapshot file (checksums, then the whole state) and print what it holds; exit 3 when it is damaged')
    .argument('<file>')
    .action(async (file: string) => {
      const { header, contents } = await readOrRefuse(file, writeErr);
      write(`${JSON.stringify({ file, ...summaryOf(header, contents) }, null, 2)}\n`);
    });
  snapshot
    .command('restore')
    .description('write a fresh data directory for one member of a NEW cluster from a snapshot file; run it once per member with the same --peers, then start each with `testudo coordinator --peers …`; exit 3 for a damaged file (nothing is written)')
    .argument('<file>')
    .requiredOption('--data-dir <dir>', 'the data directory to create (must not exist, or be empty)')
    .requiredOption('--id <id>', "this member's id (one of --peers)")
    .requiredOption('--peers <list>', 'every member of the new cluster, id=host:port,…')
    .option('--cluster-id <id>', "the new cluster's id (default: derived from --peers, as `testudo coordinator` derives it)")
    .action(async (file: string, flags: RestoreFlags) => {
      const peers = peersFlag(flags.peers);
      if (!peers.has(flags.id)) throw new UsageError(`--id ${quoted(flags.id)} is not in --peers (${[...peers.keys()].join(', ')})`);
      const { header, data } = await readOrRefuse(file, writeErr);
      const clusterId = newClusterId(flags.clusterId, peers, header.clusterId);
      const result = await restoreDataDir(header, data, { dataDir: flags.dataDir, nodeId: flags.id, peers, clusterId, path: file }).catch((error: unknown) => {
        if (error instanceof RestoreTargetError) throw new UsageError(error.message);
        if (error instanceof SnapshotFileError) {
          writeErr(`testudo: ${error.message}\n`);
          throw new ExitError(exitUnreachableOrDamaged);
        }
        throw error;
      });
      writeErr(`restored ${flags.id} at index ${result.index} into ${result.dataDir}; start it with: testudo coordinator --id ${flags.id} --data-dir ${result.dataDir} --peers ${flags.peers}${flags.clusterId === undefined ? '' : ` --cluster-id ${clusterId}`}\n`);
      write(`${JSON.stringify({ ...result, fromClusterId: header.clusterId })}\n`);
    });
}

/** The cluster's state, reached within --wait; an unreachable cluster is exit 3 (errors.ts). */
async function fetchSnapshot(options: ConnectOptions, writeErr: Write): Promise<SavedSnapshot> {
  const connection = connectionOf(options, writeErr);
  return withReachedCluster(connection, (client) => client.saveSnapshot(), Math.max(saveTimeoutMs, connection.target.waitMs));
}

function headerOf(saved: SavedSnapshot): SnapshotFileHeader {
  return {
    formatVersion: snapshotFileVersion,
    clusterId: saved.clusterId,
    index: saved.index,
    term: saved.term,
    savedAtMs: saved.savedAtMs,
    servedBy: saved.servedBy,
    leaderId: saved.leaderId,
    testudoVersion,
    dataBytes: saved.dataBytes,
    dataSha256: saved.dataSha256,
  };
}

function summaryOf(header: SnapshotFileHeader, contents: SnapshotContents): Record<string, unknown> {
  return {
    clusterId: header.clusterId,
    index: header.index,
    term: header.term,
    savedAt: new Date(header.savedAtMs).toISOString(),
    servedBy: header.servedBy,
    testudoVersion: header.testudoVersion,
    dataBytes: header.dataBytes,
    dataSha256: header.dataSha256,
    ...contents,
  };
}

function checkedContents(check: () => SnapshotContents, writeErr: Write, what: string): SnapshotContents {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof SnapshotFileError)) throw error;
    writeErr(`testudo: ${what}: ${error.message}\n`);
    throw new ExitError(exitUnreachableOrDamaged);
  }
}

async function readOrRefuse(file: string, writeErr: Write): ReturnType<typeof readSnapshotFile> {
  const found = await stat(file).then(
    (st) => st.isFile(),
    () => false,
  );
  if (!found) throw new UsageError(`no snapshot file ${file}`);
  try {
    return await readSnapshotFile(file);
  } catch (error) {
    if (!(error instanceof SnapshotFileError)) throw error;
    writeErr(`testudo: refusing the snapshot: ${error.message}; nothing was written\n`);
    throw new ExitError(exitUnreachableOrDamaged);
  }
}

/** `id=host:port,…`: ids as coordinators accept them, addresses normalized as `--peers` normalizes them. */
export function peersFlag(raw: string): Map<string, string> {
  const peers = new Map<string, string>();
  const addresses = new Set<string>();
  for (const item of raw.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    const id = eq <= 0 ? '' : item.slice(0, eq).trim();
    if (!idPattern.test(id)) throw new UsageError(`--peers entries must be id=host:port with ids of letters, digits, ".", "_" or "-"; got ${quoted(item)}`);
    let address: string;
    try {
      address = formatHostPort(parseHostPort(item.slice(eq + 1).trim()));
    } catch (error) {
      throw new UsageError(`--peers: ${id}: ${(error as Error).message}`);
    }
    if (peers.has(id)) throw new UsageError(`--peers names ${id} twice`);
    if (addresses.has(address)) throw new UsageError(`--peers names the address ${address} twice`);
    peers.set(id, address);
    addresses.add(address);
  }
  if (peers.size === 0) throw new UsageError(`--peers must name at least one id=host:port, got ${quoted(raw)}`);
  return peers;
}

/** The restored cluster's id: given or derived, and never the saved cluster's (the new one must not pass for the old). */
function newClusterId(flag: string | undefined, peers: ReadonlyMap<string, string>, savedClusterId: string): string {
  if (flag !== undefined && !clusterIdPattern.test(flag)) throw new UsageError(`--cluster-id must be 1-64 letters, digits, ".", "_" or "-", got ${quoted(flag)}`);
  const clusterId = flag ?? deriveClusterId(peers);
  if (clusterId === savedClusterId) {
    throw new UsageError(
      `the new cluster would have the saved cluster's id ${savedClusterId}${flag === undefined ? ' (derived from the same --peers)' : ''}; ` +
        'a restored cluster is a new cluster: pass --cluster-id <new id> to every restore, and start every member with that --cluster-id',
    );
  }
  return clusterId;
}
