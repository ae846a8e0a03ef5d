import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { TestudoClient } from '../client/index.js';
import { LocalCluster, PortInUseError } from '../cluster/local-cluster.js';
import { ForeignClusterError, LocalClusterTimeoutError, LocalProcessExitedError, waitLocalClusterReady } from '../cluster/ready.js';
import { printable } from '../common/printable.js';
import { protoDir } from '../common/protos.js';
import { dashboardLine } from '../dashboard/url.js';
import { formatStatusTable } from './client-cmds.js';
import { ExitError, UsageError } from './errors.js';
import { integerFlag, nonNegativeIntFlag, positiveIntFlag, replicasFlag } from './flags.js';
import type { CliIo, Write } from './io.js';

/** How long `up` waits for the first leader before giving up. */
export const upLeaderTimeoutMs = 30_000;
/** `up`/`demo` when the local cluster did not come up: a process exited, another cluster answered, or no leader (the exit-code table's "cluster unreachable"). */
export const exitClusterDidNotStart = 3;
/** Lines of a process's log shown when it exited during start. */
export const startFailureLogLines = 5;

/** Coordinators `up` and `demo` start unless --replicas says otherwise, and the most they start. */
export const replicasDefault = 3;
export const replicasMax = 9;

/** `--replicas <n>`, or the old `--coordinators <n>` with a note; addresses make no sense for a cluster this command starts. */
export function localReplicas(options: { replicas?: string; coordinators?: string }, warn: Write): number {
  const { replicas, list } = replicasFlag(options, { min: 1, max: replicasMax, fallback: replicasDefault }, warn);
  if (list !== undefined) throw new UsageError(`this command starts its own coordinators: give how many with --replicas <n>, got --coordinators ${JSON.stringify(list)}`);
  return replicas;
}

export function registerUpCommand(program: Command, io: CliIo): void {
  program
    .command('up')
    .description('start a local cluster of coordinators and workers on 127.0.0.1 and keep it running until Ctrl-C or SIGTERM')
    .option('--replicas <n>', `number of coordinators, 1..${replicasMax} (default ${replicasDefault})`)
    .addOption(new Option('--coordinators <n>', 'deprecated: --replicas').hideHelp())
    .option('--workers <n>', 'number of workers (0: coordinators only)', '3')
    .option('--worker-slots <n>', 'tasks each worker runs at once', '2')
    .option('--data-dir <dir>', 'where each coordinator keeps its data (<dir>/n1, …); reused on the next up', '.testudo')
    .option('--base-port <port>', 'gRPC port of n1 (n2 gets the next, …); 0 picks free ports; a taken port fails before anything starts (exit 2)', '7001')
    .option('--http-base-port <port>', 'HTTP port of n1 (/metrics, /livez, /readyz); 0 picks free ports; a taken port fails like --base-port', '9101')
    .option('--tick-ms <ms>', 'Raft tick length')
    .action(async (options: { replicas?: string; coordinators?: string; workers: string; workerSlots: string; dataDir: string; basePort: string; httpBasePort: string; tickMs?: string }) => {
      const coordinators = localReplicas(options, io.err);
      const workers = integerFlag('--workers', options.workers, 0, 64);
      const workerSlots = positiveInt('--worker-slots', options.workerSlots);
      const cluster = new LocalCluster({
        coordinators,
        dataDir: resolve(options.dataDir),
        basePort: port('--base-port', options.basePort),
        baseHttpPort: port('--http-base-port', options.httpBasePort),
        tickMs: options.tickMs === undefined ? undefined : positiveInt('--tick-ms', options.tickMs),
      });
      await runUntilSignal(cluster, io, { workers, workerSlots });
    });
}

export interface UpWorkers {
  readonly workers: number;
  readonly workerSlots: number;
}

/**
 * Starts the coordinators and waits for a leader of this cluster. A taken
 * fixed port is a UsageError (exit 2) raised before anything starts; a
 * coordinator that exits, or another cluster answering at our addresses, is
 * exit 3 (said on stderr with the end of the process's log).
 */
export async function startLocalCoordinators(cluster: LocalCluster, client: () => TestudoClient, cancelled: () => boolean = () => false): Promise<ClusterStatusOrNull> {
  try {
    await cluster.start();
  } catch (error) {
    if (error instanceof PortInUseError) throw new UsageError(error.message);
    throw error;
  }
  return await waitOrExplain(cluster, client, { timeoutMs: upLeaderTimeoutMs, cancelled });
}

type ClusterStatusOrNull = Awaited<ReturnType<typeof waitLocalClusterReady>>;

/** waitLocalClusterReady, with its expected failures said on stderr and turned into exit 3. */
export async function waitOrExplain(cluster: LocalCluster, client: () => TestudoClient, options: Parameters<typeof waitLocalClusterReady>[2]): Promise<ClusterStatusOrNull> {
  const c = client();
  try {
    return await waitLocalClusterReady(cluster, c, options);
  } catch (error) {
    if (!(error instanceof LocalProcessExitedError || error instanceof ForeignClusterError || error instanceof LocalClusterTimeoutError)) throw error;
    process.stderr.write(`testudo: the local cluster did not start: ${error.message}\n`);
    if (error instanceof LocalProcessExitedError) process.stderr.write(await logTail(error.logPath));
    throw new ExitError(exitClusterDidNotStart, error.message);
  } finally {
    c.close();
  }
}

/** The last lines of a log, indented, for a start failure's message. */
async function logTail(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return '';
  }
  const lines = text.trimEnd().split('\n').slice(-startFailureLogLines);
  return lines.length === 0 ? '' : `the end of ${path}:\n${lines.map((l) => `  ${printable(l)}`).join('\n')}\n`;
}

/** The bundled example spec (next to proto/ in the package, whatever the working directory). */
export function exampleSpecPath(): string {
  return join(dirname(protoDir()), 'examples', 'testudo.yaml');
}

/** Starts `n` workers w1..wN on the local cluster. */
export async function startLocalWorkers(cluster: LocalCluster, { workers, workerSlots }: UpWorkers): Promise<void> {
  for (let i = 1; i <= workers; i++) await cluster.startWorker(`w${i}`, { slots: workerSlots });
}

/** Runs the cluster until SIGINT/SIGTERM: its addresses and status table on stdout (data), the rest on stderr. */
async function runUntilSignal(cluster: LocalCluster, io: CliIo, workers: UpWorkers): Promise<void> {
  const write = io.out;
  let stopping = false;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    io.err(`\n${signal}: stopping the coordinators…\n`);
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const client = (): TestudoClient => new TestudoClient({ endpoints: cluster.endpoints(), totalTimeoutMs: upLeaderTimeoutMs, callTimeoutMs: 2000 });
  try {
    const status = await startLocalCoordinators(cluster, client, () => stopping);
    if (status === null) return;
    await startLocalWorkers(cluster, workers);
    for (const m of cluster.members.values()) {
      void cluster.exited(m.id)?.then((code) => {
        if (!stopping) io.err(`coordinator ${m.id} exited (code ${code ?? 'signal'}); its log: ${m.logPath}\n`);
      });
    }
    write(`Testudo coordinators are up (cluster ${cluster.clusterId}).\n\n`);
    for (const m of cluster.members.values()) write(`  ${m.id}  grpc ${m.grpcAddress}  http ${m.httpAddress ?? '-'}  log ${m.logPath}\n`);
    for (const w of cluster.workers.values()) write(`  ${w.id}  worker (${workers.workerSlots} slots)  http ${w.httpAddress ?? '-'}  log ${w.logPath}\n`);
    const firstHttp = [...cluster.members.values()].find((m) => m.httpAddress !== null)?.httpAddress;
    if (firstHttp !== undefined && firstHttp !== null) write(`\n${dashboardLine(firstHttp)}\n`);
    write(`\n${formatStatusTable(status)}`);
    io.err(`\nTry: testudo run ${exampleSpecPath()}   testudo workers list   testudo cluster status   (Ctrl-C stops the cluster)\n`);
    await stopped;
  } finally {
    await cluster.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // No members: a taken port stopped `up` before it started anything.
    if (cluster.members.size > 0) io.err('all workers and coordinators stopped\n');
  }
}

function port(flag: string, value: string): number {
  // n1 takes the base port, n2 the next…: leave room for the largest cluster.
  return integerFlag(`${flag} (0 picks free ports)`, value, 0, 65_535 - 9);
}

export function nonNegativeInt(flag: string, value: string): number {
  return nonNegativeIntFlag(flag, value);
}

export function positiveInt(flag: string, value: string): number {
  return positiveIntFlag(flag, value);
}
