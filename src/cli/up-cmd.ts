import { resolve } from 'node:path';
import type { Command } from 'commander';
import { TestudoClient } from '../client/index.js';
import { LocalCluster } from '../cluster/local-cluster.js';
import { formatStatusTable } from './client-cmds.js';
import { integerFlag, nonNegativeIntFlag, positiveIntFlag } from './flags.js';

/** How long `up` waits for the first leader before giving up. */
export const upLeaderTimeoutMs = 30_000;

export function registerUpCommand(program: Command, write: (text: string) => void): void {
  program
    .command('up')
    .description('start a local cluster of coordinators and workers on 127.0.0.1 and keep it running until Ctrl-C or SIGTERM')
    .option('--coordinators <n>', 'number of coordinators', '3')
    .option('--workers <n>', 'number of workers (0: coordinators only)', '3')
    .option('--worker-slots <n>', 'tasks each worker runs at once', '2')
    .option('--data-dir <dir>', 'where each coordinator keeps its data (<dir>/n1, …); reused on the next up', '.testudo')
    .option('--base-port <port>', 'gRPC port of n1 (n2 gets the next, …); 0 picks free ports', '7001')
    .option('--http-base-port <port>', 'HTTP port of n1 (/metrics, /livez, /readyz); 0 picks free ports', '9101')
    .option('--tick-ms <ms>', 'Raft tick length')
    .action(async (options: { coordinators: string; workers: string; workerSlots: string; dataDir: string; basePort: string; httpBasePort: string; tickMs?: string }) => {
      const coordinators = integerFlag('--coordinators', options.coordinators, 1, 9);
      const workers = integerFlag('--workers', options.workers, 0, 64);
      const workerSlots = positiveInt('--worker-slots', options.workerSlots);
      const cluster = new LocalCluster({
        coordinators,
        dataDir: resolve(options.dataDir),
        basePort: port('--base-port', options.basePort),
        baseHttpPort: port('--http-base-port', options.httpBasePort),
        tickMs: options.tickMs === undefined ? undefined : positiveInt('--tick-ms', options.tickMs),
      });
      await runUntilSignal(cluster, write, { workers, workerSlots });
    });
}

export interface UpWorkers {
  readonly workers: number;
  readonly workerSlots: number;
}

/** Starts `n` workers w1..wN on the local cluster. */
export async function startLocalWorkers(cluster: LocalCluster, { workers, workerSlots }: UpWorkers): Promise<void> {
  for (let i = 1; i <= workers; i++) await cluster.startWorker(`w${i}`, { slots: workerSlots });
}

async function runUntilSignal(cluster: LocalCluster, write: (text: string) => void, workers: UpWorkers): Promise<void> {
  let stopping = false;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    write(`\n${signal}: stopping the coordinators…\n`);
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await cluster.start();
    await startLocalWorkers(cluster, workers);
    for (const m of cluster.members.values()) {
      void cluster.exited(m.id)?.then((code) => {
        if (!stopping) write(`coordinator ${m.id} exited (code ${code ?? 'signal'}); its log: ${m.logPath}\n`);
      });
    }
    const client = new TestudoClient({ endpoints: cluster.endpoints(), totalTimeoutMs: upLeaderTimeoutMs, callTimeoutMs: 2000 });
    try {
      const status = await waitForLeader(client, () => stopping);
      if (stopping) return;
      write('Testudo coordinators are up.\n\n');
      for (const m of cluster.members.values()) write(`  ${m.id}  grpc ${m.grpcAddress}  http ${m.httpAddress ?? '-'}  log ${m.logPath}\n`);
      for (const w of cluster.workers.values()) write(`  ${w.id}  worker (${workers.workerSlots} slots)  http ${w.httpAddress ?? '-'}  log ${w.logPath}\n`);
      write(`\n${formatStatusTable(status)}\nTry: testudo run -f examples/testudo.yaml   testudo workers list   testudo cluster status   (Ctrl-C stops the cluster)\n`);
    } finally {
      client.close();
    }
    await stopped;
  } finally {
    await cluster.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    write('all workers and coordinators stopped\n');
  }
}

async function waitForLeader(client: TestudoClient, cancelled: () => boolean): Promise<Awaited<ReturnType<TestudoClient['clusterStatus']>>> {
  const deadline = Date.now() + upLeaderTimeoutMs;
  for (;;) {
    try {
      const status = await client.clusterStatus();
      if (status.leaderId !== '' && status.members.every((m) => m.reachable)) return status;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`no leader after ${upLeaderTimeoutMs} ms: ${(error as Error).message}`, { cause: error });
    }
    if (cancelled()) throw new Error('stopped before a leader was elected');
    if (Date.now() > deadline) throw new Error(`no leader after ${upLeaderTimeoutMs} ms; see the coordinator logs`);
    await new Promise((resolve) => setTimeout(resolve, 100));
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
