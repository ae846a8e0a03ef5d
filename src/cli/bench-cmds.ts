import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { drillSettleTimeoutMs, localOnlyModes, runFailoverDrill, type DrillMode } from '../bench/failover-drill.js';
import { kvMachineBenchPutsMax, runKvMachineBench } from '../bench/kv-machine.js';
import { runLoad, timedPhaseLine, type LoadOp } from '../bench/load.js';
import { runDrillDefaults, runDrillModes, runRunFailoverDrill, type RunDrillMode } from '../bench/run-failover-drill.js';
import { makespanScaleDefault, runMakespanBench } from '../bench/makespan.js';
import { filePairsDefault, historyErrorDefault, runFileMakespanBench } from '../bench/makespan-files.js';
import { leaderWaitMsDefault, runRaftBench } from '../bench/raft.js';
import { ClusterNotSettledError } from '../bench/settle.js';
import { printableLines } from '../common/printable.js';
import { runEtcdLoad } from '../bench/etcd-bench.js';
import { EtcdMissingError, findEtcdBinary } from '../bench/etcd-cluster.js';
import { runRaftCompare } from '../bench/etcd-compare.js';
import { runFailoverCompare } from '../bench/etcd-failover.js';
import { registerOutboxBench } from './bench-outbox-cmd.js';
import { registerOssSuiteBench } from './bench-oss-cmd.js';
import { runScheduleBench } from '../bench/schedule.js';
import { dashboardBenchDefaults, runDashboardBench } from '../bench/dashboard.js';
import { dashboardStreamsMax } from '../dashboard/limits.js';
import { valueBytesMax } from '../coordinator/limits.js';
import { prefetchPerSlotMax } from '../coordinator/recovery/index.js';
import { ExitCode, ExitError, UsageError } from './errors.js';
import { endpointListFlag, integerFlag, positiveIntFlag, replicasFlag } from './flags.js';
import { deprecationNote, waitMsMax } from './connect.js';
import { positiveInt } from './up-cmd.js';
import type { CliIo } from './io.js';
import type { ReadMode } from '../raft/index.js';

function endpointList(value: string, flag = '--coordinators'): string[] {
  return endpointListFlag(flag, value);
}

/** Progress goes to stderr so that stdout's last line is the JSON result. */
function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function registerBenchCommands(program: Command, io: CliIo): void {
  const write = io.out;
  const bench = program.command('bench').description('benchmarks; each prints its result as JSON on the last line of stdout');
  registerDashboardBench(bench, write, progress);
  registerOutboxBench(bench, write, progress);
  registerOssSuiteBench(bench, write, progress);
  bench
    .command('kv-machine')
    .description('the key-value state machine alone, in this process: puts applied per second and list pages per second')
    .option('--puts <n>', 'distinct keys put', '20000')
    .option('--value-bytes <n>', 'bytes per value', '256')
    .option('--page-size <n>', 'keys per list page', '100')
    .action((o: { puts: string; valueBytes: string; pageSize: string }) => {
      const puts = positiveInt('--puts', o.puts);
      if (puts > kvMachineBenchPutsMax) throw new UsageError(`--puts must be at most ${kvMachineBenchPutsMax}, got ${puts}`);
      const valueBytes = positiveInt('--value-bytes', o.valueBytes);
      if (valueBytes > valueBytesMax) throw new UsageError(`--value-bytes must be at most ${valueBytesMax}, got ${valueBytes}`);
      const result = runKvMachineBench({ puts, valueBytes, pageSize: positiveInt('--page-size', o.pageSize) });
      write(`${JSON.stringify(result)}\n`);
    });
  bench
    .command('raft')
    .description('write (or, with --op get, linearizable read) throughput and latency of a 3-node cluster (fsync on), driven from a separate client process')
    .option('--clients <n>', 'concurrent callers', '64')
    .option('--ops <n>', 'timed writes', '20000')
    .option('--value-bytes <n>', 'bytes per value', '256')
    .option('--duration-s <s>', 'run for this many seconds instead of --ops (a saturating load)')
    .option('--warmup-ops <n>', 'untimed writes first', '1000')
    .option('--op <op>', 'put: time writes; get: time linearizable reads of the keys the warm-up wrote', 'put')
    .option('--read-mode <mode>', "the local cluster's read mode, safe|lease (see testudo coordinator --read-mode)")
    .option('--coordinators <list>', 'use this running cluster (host:port,…) instead of starting one')
    .option('--compare <system>', 'etcd: also run a local 3-member etcd cluster with the same load, alternating, and print both with the ratios')
    .option('--rounds <n>', 'with --compare: pairs of runs', '3')
    .option('--etcd-bin <path>', 'with --compare etcd: the etcd binary (default: etcd on PATH)')
    .option('--wait <ms>', `how long to wait for a stable leader, before and after the writes, before giving up with exit 3 (default ${leaderWaitMsDefault})`)
    .option('--data-dir <dir>', "keep the local cluster's data and coordinator logs (at info: every role change) here (default: a temporary directory, removed)")
    .option('--no-batch-writes', "send each of the load's puts in a call of its own (Kv.Put) instead of the client's batches of concurrent puts (Kv.PutMany; docs/client.md)")
    .option('--trace-dir <dir>', 'with --clients 1 on the local cluster: trace the coordinators and the load process into this new or empty directory and cut each timed write into phases (commitTrace; docs/bench/dispatch-trace.md)')
    .action(async (o: RaftBenchFlags) => {
      const options = {
        clients: positiveInt('--clients', o.clients),
        ops: positiveInt('--ops', o.ops),
        valueBytes: positiveInt('--value-bytes', o.valueBytes),
        durationMs: o.durationS === undefined ? undefined : positiveInt('--duration-s', o.durationS) * 1000,
        warmupOps: nonNegativeInt('--warmup-ops', o.warmupOps),
        leaderWaitMs: waitFlag(o.wait),
        dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
        op: loadOp(o.op),
        readMode: readModeFlag(o.readMode),
        batchWrites: o.batchWrites,
      };
      const traceDir = traceDirFlag(o.traceDir);
      if (traceDir !== undefined && (options.clients !== 1 || o.compare !== undefined || o.coordinators !== undefined || options.op !== 'put')) {
        throw new UsageError('--trace-dir cuts one client\'s writes on the local cluster: it needs --clients 1 and no --compare, --coordinators or --op get');
      }
      if (o.compare !== undefined) {
        if (options.op !== 'put' || options.readMode !== undefined) throw new UsageError('--compare times writes only: leave out --op and --read-mode');
        if (o.coordinators !== undefined) throw new UsageError('--compare starts its own clusters: leave out --coordinators');
        if (options.dataDir !== undefined) throw new UsageError('--compare starts a new cluster each round: leave out --data-dir');
        const etcdBinary = etcdBinaryFlag(o.compare, o.etcdBin);
        write(`${JSON.stringify(await runRaftCompare({ ...options, rounds: positiveInt('--rounds', o.rounds), etcdBinary }, progress))}\n`);
        return;
      }
      const coordinators = o.coordinators === undefined ? undefined : endpointList(o.coordinators);
      if (coordinators !== undefined && options.dataDir !== undefined) throw new UsageError('--data-dir is for the local cluster bench raft starts: leave out --coordinators');
      if (coordinators !== undefined && options.readMode !== undefined) throw new UsageError('--read-mode is for the local cluster bench raft starts: a running cluster keeps its own');
      if (options.op === 'get' && options.warmupOps === 0) throw new UsageError('--op get reads the keys the warm-up writes: --warmup-ops must be positive');
      write(`${JSON.stringify(await settledOrExit(() => runRaftBench({ ...options, coordinators, traceDir }, progress), coordinators === undefined))}\n`);
    });
  bench
    .command('load')
    .description('drive a write load at a running cluster from this process (what `bench raft` runs)')
    .option('--coordinators <list>', 'coordinators, host:port,… (required)')
    .addOption(new Option('--endpoints <list>', 'deprecated: --coordinators').hideHelp())
    .option('--clients <n>', 'concurrent callers', '64')
    .option('--ops <n>', 'timed writes', '20000')
    .option('--value-bytes <n>', 'bytes per value', '256')
    .option('--duration-ms <ms>', 'run for this long instead of --ops')
    .option('--warmup-ops <n>', 'untimed writes first', '1000')
    .option('--op <op>', 'put: time writes; get: time linearizable reads of the keys the warm-up wrote', 'put')
    .option('--target <kind>', 'testudo | etcd (--coordinators then names etcd members, the leader first)', 'testudo')
    .option('--no-batch-writes', "send each put in a call of its own (Kv.Put) instead of the client's batches of concurrent puts (Kv.PutMany)")
    .action(async (o: { coordinators?: string; endpoints?: string; clients: string; ops: string; valueBytes: string; durationMs?: string; warmupOps: string; op: string; target: string; batchWrites: boolean }) => {
      if (o.target !== 'testudo' && o.target !== 'etcd') throw new UsageError(`--target must be testudo or etcd, got "${o.target}"`);
      const op = loadOp(o.op);
      if (op === 'get' && o.target === 'etcd') throw new UsageError('--op get is for --target testudo');
      if (op === 'get' && nonNegativeInt('--warmup-ops', o.warmupOps) === 0) throw new UsageError('--op get reads the keys the warm-up writes: --warmup-ops must be positive');
      const result = await (o.target === 'etcd' ? runEtcdLoad : runLoad)({
        endpoints: loadCoordinators(o, io.err),
        clients: positiveInt('--clients', o.clients),
        ops: positiveInt('--ops', o.ops),
        valueBytes: positiveInt('--value-bytes', o.valueBytes),
        durationMs: o.durationMs === undefined ? undefined : positiveInt('--duration-ms', o.durationMs),
        warmupOps: nonNegativeInt('--warmup-ops', o.warmupOps),
        keySpace: 10_000,
        op,
        batchWrites: o.batchWrites,
      }, () => write(`${timedPhaseLine}\n`));
      write(`${JSON.stringify(result)}\n`);
    });

  bench
    .command('schedule')
    .description('scheduler throughput (one run of no-op tasks on no-op workers) and dispatch latency, idle and under load')
    .option('--tasks <n>', 'tasks in the big run (at most 50000)', '20000')
    .option('--workers <n>', 'no-op worker processes', '8')
    .option('--slots <n>', 'slots per worker', '16')
    .option('--seed <n>', 'names the runs', '1')
    .option('--idle-runs <n>', 'single-task runs, one after another, after the big run', '200')
    .option('--warmup-tasks <n>', 'no-op tasks of an untimed run before the big run (the steady state of a long-lived cluster; 0: a fresh one); the big run starts once every member has archived it', '0')
    .option('--data-dir <dir>', "keep the cluster's data and coordinator logs here (default: a temporary directory, removed)")
    .option('--prefetch-per-slot <x>', "set the cluster's prefetchPerSlot first (0..4; default: the cluster's own)")
    .option('--trace-dir <dir>', "trace the cluster's processes into this new or empty directory and cut each idle dispatch into phases (dispatchTrace; docs/bench/dispatch-trace.md)")
    .action(async (o: { tasks: string; workers: string; slots: string; seed: string; idleRuns: string; warmupTasks: string; dataDir?: string; prefetchPerSlot?: string; traceDir?: string }) => {
      const traceDir = traceDirFlag(o.traceDir);
      const result = await runScheduleBench(
        {
          tasks: positiveInt('--tasks', o.tasks),
          workers: positiveInt('--workers', o.workers),
          slots: positiveInt('--slots', o.slots),
          seed: nonNegativeInt('--seed', o.seed),
          idleRuns: nonNegativeInt('--idle-runs', o.idleRuns),
          warmupTasks: nonNegativeInt('--warmup-tasks', o.warmupTasks),
          dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
          prefetchPerSlot: prefetchPerSlotFlag(o.prefetchPerSlot),
          traceDir,
        },
        progress,
      );
      write(`${JSON.stringify(result)}\n`);
      if (result.lostTasks > 0) throw new ExitError(1);
    });
  bench
    .command('makespan')
    .description('makespan of a seeded heavy-tailed workload: static strategies simulated, dynamic scheduling run for real')
    .option('--tasks <n>', 'tasks', '2000')
    .option('--slots <n>', 'slots in total', '50')
    .option('--seed <n>', 'workload seed', '1')
    .option('--scale <x>', 'multiplies every duration (mean 1 s before scaling)', String(makespanScaleDefault))
    .option('--workers <n>', 'worker processes sharing the slots (default: one per 10 slots)')
    .option('--no-history', 'skip the warm-up run: the real run has no timing history (FIFO order)')
    .option('--simulate-only', 'skip the real run')
    .option('--data-dir <dir>', "keep the cluster's data and coordinator logs here (default: a temporary directory, removed)")
    .option('--prefetch-per-slot <x>', "set the cluster's prefetchPerSlot first (0..4; default: the cluster's own)")
    .option('--direct', 'first run the same commands through a plain local pool of --slots processes, in the same order, before the cluster starts (the machine\'s own floor)')
    .option('--files <n>', 'the file-level case instead: one suite of N files, static timing shards vs queue mode (docs/orchestrator.md, "Queue mode")')
    .option('--history-error <x>', `with --files: the history of a quarter of the files is off by ±x (0..0.99)`, String(historyErrorDefault))
    .option('--pairs <n>', 'with --files: alternating static/queue pairs of real runs', String(filePairsDefault))
    .action(
      async (o: {
        tasks: string;
        slots: string;
        seed: string;
        scale: string;
        workers?: string;
        history: boolean;
        simulateOnly?: boolean;
        dataDir?: string;
        prefetchPerSlot?: string;
        direct?: boolean;
        files?: string;
        historyError: string;
        pairs: string;
      }) => {
        const scale = Number(o.scale);
        if (!Number.isFinite(scale) || scale <= 0) throw new UsageError(`--scale must be a positive number, got "${o.scale}"`);
        if (o.direct === true && (o.files !== undefined || o.simulateOnly === true)) throw new UsageError('--direct runs the task-level workload for real: it goes with neither --files nor --simulate-only');
        if (o.files !== undefined) {
          const historyError = Number(o.historyError);
          if (!Number.isFinite(historyError) || historyError < 0 || historyError >= 1) throw new UsageError(`--history-error must be a number from 0 to 0.99, got "${o.historyError}"`);
          const files = await runFileMakespanBench(
            {
              files: positiveInt('--files', o.files),
              slots: positiveInt('--slots', o.slots),
              seed: nonNegativeInt('--seed', o.seed),
              scale,
              historyError,
              pairs: positiveInt('--pairs', o.pairs),
              workers: o.workers === undefined ? undefined : positiveInt('--workers', o.workers),
              simulateOnly: o.simulateOnly === true,
              dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
            },
            progress,
          );
          write(`${JSON.stringify(files)}\n`);
          if ((files.real?.lostTasks ?? 0) > 0) throw new ExitError(1);
          return;
        }
        const result = await runMakespanBench(
          {
            tasks: positiveInt('--tasks', o.tasks),
            slots: positiveInt('--slots', o.slots),
            seed: nonNegativeInt('--seed', o.seed),
            scale,
            history: o.history,
            workers: o.workers === undefined ? undefined : positiveInt('--workers', o.workers),
            simulateOnly: o.simulateOnly === true,
            dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
            prefetchPerSlot: prefetchPerSlotFlag(o.prefetchPerSlot),
            directBaseline: o.direct === true,
          },
          progress,
        );
        write(`${JSON.stringify(result)}\n`);
        if ((result.lostTasks ?? 0) > 0) throw new ExitError(1);
      },
    );

  const drill = program.command('drill').description('operational drills on a local cluster');
  drill
    .command('failover')
    .description('stop the leader again and again: under a light write load (--workload kv, the default), time until the next write commits; with a real run in flight (--workload run), time until tasks and workers are back, reruns and client exit codes')
    .option('--workload <kind>', 'kv (a light write load) | run (a run of short tasks on worker processes, followed by a `testudo run` child process)', 'kv')
    .option('--rounds <n>', 'leader failures to inflict (per mode with --workload run)', '20')
    .option('--mode <mode>', 'kv: kill (SIGKILL, then restart) | pause (SIGSTOP, then SIGCONT) | transfer | partition (cut every link of the leader through the fault proxy, then heal); run: kill (SIGKILL; restarted after the run) | restart (SIGKILL, restarted at once) | kill,restart (the default)')
    .option('--replicas <n>', 'size of the local cluster to start (default 3)')
    .option('--coordinators <list>', 'drill this running cluster instead, host:port,… (then only --mode transfer: the others need process control or the proxies, which only a local cluster has)')
    .option('--write-interval-ms <ms>', 'kv: start a write this often', '10')
    .option('--round-timeout-ms <ms>', 'kv: give up on a round after this long', '10000')
    .option('--tasks <n>', `run: tasks in the run (default ${runDrillDefaults.tasks})`)
    .option('--task-ms <ms>', `run: how long each task sleeps (default ${runDrillDefaults.taskMs})`)
    .option('--workers <n>', `run: worker processes (default ${runDrillDefaults.workers})`)
    .option('--slots <n>', `run: slots per worker (default ${runDrillDefaults.slots})`)
    .option('--baseline-rounds <n>', `run: rounds with no fault, for the run's duration without one (default ${runDrillDefaults.baselineRounds})`)
    .option('--tick-ms <ms>', 'Raft tick length (default: the coordinator default)')
    .option('--election-ticks <n>', 'election timeout in ticks (default: the coordinator default)')
    .option('--wait <ms>', `kv: how long to wait for one leader that every member follows, and for the members to catch up, at the start and between rounds, before giving up with exit 3 (default ${drillSettleTimeoutMs})`)
    .option('--data-dir <dir>', "keep the cluster's data and coordinator logs here (default: a temporary directory, removed)")
    .option('--compare <system>', 'etcd: --workload kv --mode kill only: then the same drill on a local 3-member etcd cluster, both in one JSON')
    .option('--etcd-bin <path>', 'with --compare etcd: the etcd binary (default: etcd on PATH)')
    .action(async (o: DrillFlags) => {
      if (o.wait !== undefined && (o.compare !== undefined || o.workload !== 'kv')) throw new UsageError('--wait is for --workload kv without --compare');
      if (o.compare !== undefined) {
        await settledOrExit(() => compareFailoverDrill(o, write), true);
        return;
      }
      const size = replicasFlag(o, { min: 1, max: 9, fallback: 3 }, io.err);
      if (size.replicas < 3) throw new UsageError('--replicas must be at least 3 for a failover drill');
      if (o.workload === 'run') {
        if (size.list !== undefined) throw new UsageError('--workload run starts its own cluster: give --replicas <n>, not --coordinators');
        await settledOrExit(() => runWorkloadDrill(o, size.replicas, write), true);
        return;
      }
      if (o.workload !== 'kv') throw new UsageError(`--workload must be kv or run, got "${o.workload}"`);
      await settledOrExit(() => kvWorkloadDrill(o, size.replicas, size.list, write), size.list === undefined);
    });
}

interface DrillFlags {
  workload: string;
  rounds: string;
  mode?: string;
  replicas?: string;
  coordinators?: string;
  writeIntervalMs: string;
  roundTimeoutMs: string;
  tasks?: string;
  taskMs?: string;
  workers?: string;
  slots?: string;
  baselineRounds?: string;
  tickMs?: string;
  electionTicks?: string;
  wait?: string;
  dataDir?: string;
  compare?: string;
  etcdBin?: string;
}

interface RaftBenchFlags {
  op: string;
  readMode?: string;
  clients: string;
  ops: string;
  valueBytes: string;
  durationS?: string;
  warmupOps: string;
  coordinators?: string;
  compare?: string;
  rounds: string;
  etcdBin?: string;
  wait?: string;
  dataDir?: string;
  traceDir?: string;
  batchWrites: boolean;
}

/** `--trace-dir <dir>` resolved, refused when the directory holds anything (other processes' traces would mix with the run's). */
function traceDirFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const dir = resolve(value);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UsageError(`--trace-dir ${dir} is not empty: the traces of other processes would mix with this run's`);
  return dir;
}

/** `--wait <ms>` of a bench or drill, or undefined for the command's own default. */
function waitFlag(raw: string | undefined): number | undefined {
  return raw === undefined ? undefined : integerFlag('--wait', raw, 1, waitMsMax);
}

/**
 * Runs a bench or drill; a cluster that never settled a leader (or whose
 * members never caught up) is said on stderr with what to try next, and the
 * command exits 3 (no leader / unreachable, docs/cli.md#exit-codes).
 */
async function settledOrExit<T>(run: () => Promise<T>, localCluster: boolean): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof ClusterNotSettledError)) throw error;
    const next = localCluster
      ? "the local cluster's coordinators did not settle: on a loaded machine try again later or with a longer --wait; --data-dir DIR keeps their logs"
      : 'check that the coordinators run and that --coordinators names every member; --wait MS waits longer';
    process.stderr.write(`testudo: ${printableLines(error.message)}\n  ${next}\n`);
    throw new ExitError(ExitCode.unavailable, error.message);
  }
}

/** `--compare etcd` and `--etcd-bin`: the etcd binary to run, or exit 2 saying what to install. */
function etcdBinaryFlag(compare: string, etcdBin: string | undefined): string {
  if (compare !== 'etcd') throw new UsageError(`--compare must be etcd, got "${compare}"`);
  try {
    return findEtcdBinary(etcdBin);
  } catch (error) {
    if (error instanceof EtcdMissingError) throw new UsageError(error.message);
    throw error;
  }
}

/** `drill failover --compare etcd`: the kv drill in kill mode on Testudo, then on etcd; exits 1 if either lost an acknowledged write, 3 if Testudo's drill stopped (no stable leader). */
async function compareFailoverDrill(o: DrillFlags, write: (text: string) => void): Promise<void> {
  const binary = etcdBinaryFlag(o.compare!, o.etcdBin);
  if (o.workload !== 'kv' || (o.mode ?? 'kill') !== 'kill') throw new UsageError('--compare etcd drills --workload kv --mode kill only');
  if (o.coordinators !== undefined || o.replicas !== undefined) throw new UsageError('--compare starts two local 3-member clusters: leave out --coordinators and --replicas');
  const result = await runFailoverCompare(
    {
      rounds: positiveInt('--rounds', o.rounds),
      writeIntervalMs: positiveInt('--write-interval-ms', o.writeIntervalMs),
      roundTimeoutMs: positiveInt('--round-timeout-ms', o.roundTimeoutMs),
      tickMs: o.tickMs === undefined ? undefined : positiveInt('--tick-ms', o.tickMs),
      electionTicks: o.electionTicks === undefined ? undefined : positiveInt('--election-ticks', o.electionTicks),
      dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
      etcdBinary: binary,
    },
    progress,
  );
  write(`${JSON.stringify(result)}\n`);
  if ('error' in result.testudo) throw new ExitError(ExitCode.unavailable); // the progress log said why
  if (result.testudo.lostWrites > 0 || result.etcd.lostWrites > 0) throw new ExitError(ExitCode.failed);
}

async function kvWorkloadDrill(o: DrillFlags, replicas: number, list: string | undefined, write: (text: string) => void): Promise<void> {
  const mode = o.mode ?? 'kill';
  if (!['kill', 'pause', 'transfer', 'partition'].includes(mode)) throw new UsageError(`--mode must be kill, pause, transfer or partition, got "${mode}"`);
  const running = list === undefined ? undefined : endpointList(list);
  if (running !== undefined && localOnlyModes.includes(mode as DrillMode)) {
    throw new UsageError(`--mode ${mode} only works on a local cluster (it needs process control or the fault proxies); on a running cluster use --mode transfer`);
  }
  const coordinators = running?.length ?? replicas;
  const result = await runFailoverDrill(
    {
      rounds: positiveInt('--rounds', o.rounds),
      mode: mode as DrillMode,
      coordinators,
      ...(running === undefined ? {} : { endpoints: running }),
      writeIntervalMs: positiveInt('--write-interval-ms', o.writeIntervalMs),
      roundTimeoutMs: positiveInt('--round-timeout-ms', o.roundTimeoutMs),
      tickMs: o.tickMs === undefined ? undefined : positiveInt('--tick-ms', o.tickMs),
      electionTicks: o.electionTicks === undefined ? undefined : positiveInt('--election-ticks', o.electionTicks),
      dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
      settleTimeoutMs: waitFlag(o.wait),
    },
    progress,
  );
  write(`${JSON.stringify(result)}\n`);
  if (result.lostWrites > 0) throw new ExitError(1);
}

/** `--workload run`: exits 1 unless every round passed with no rerun, no hang and every exit code right. */
async function runWorkloadDrill(o: DrillFlags, coordinators: number, write: (text: string) => void): Promise<void> {
  const modes = (o.mode ?? runDrillModes.join(',')).split(',').map((m) => m.trim());
  for (const m of modes) if (!runDrillModes.includes(m as RunDrillMode)) throw new UsageError(`--workload run: --mode must be kill, restart or kill,restart, got "${o.mode ?? ''}"`);
  if (o.tickMs !== undefined || o.electionTicks !== undefined) throw new UsageError('--workload run uses the coordinators\' default timing; --tick-ms and --election-ticks are for --workload kv');
  const opt = (flag: string, value: string | undefined, fallback: number): number => (value === undefined ? fallback : positiveInt(flag, value));
  const result = await runRunFailoverDrill(
    {
      rounds: positiveInt('--rounds', o.rounds),
      modes: [...new Set(modes)] as RunDrillMode[],
      baselineRounds: o.baselineRounds === undefined ? runDrillDefaults.baselineRounds : nonNegativeInt('--baseline-rounds', o.baselineRounds),
      tasks: opt('--tasks', o.tasks, runDrillDefaults.tasks),
      taskMs: opt('--task-ms', o.taskMs, runDrillDefaults.taskMs),
      workers: opt('--workers', o.workers, runDrillDefaults.workers),
      slots: opt('--slots', o.slots, runDrillDefaults.slots),
      killAtFraction: runDrillDefaults.killAtFraction,
      clientTimeoutMs: runDrillDefaults.clientTimeoutMs,
      coordinators,
      dataDir: o.dataDir === undefined ? undefined : resolve(o.dataDir),
    },
    progress,
  );
  write(`${JSON.stringify(result)}\n`);
  if (!result.ok) throw new ExitError(1);
}

function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} must be a non-negative integer, got "${value}"`);
  return n;
}

/** `bench load --coordinators`, or its old spelling --endpoints (with a note). */
function loadCoordinators(o: { coordinators?: string; endpoints?: string }, warn: (text: string) => void): string[] {
  if (o.coordinators !== undefined) return endpointList(o.coordinators);
  if (o.endpoints === undefined) throw new UsageError('bench load needs --coordinators host:port,…');
  warn(deprecationNote('--endpoints', '--coordinators'));
  return endpointList(o.endpoints, '--endpoints');
}

/** `testudo bench dashboard` (docs/dashboard.md, "Cost of open pages"). */
function registerDashboardBench(bench: Command, write: (text: string) => void, progress: (line: string) => void): void {
  const d = dashboardBenchDefaults;
  bench
    .command('dashboard')
    .description("many open dashboard event streams on a leader under a steady workload: the leader's extra CPU and the task dispatch latency, without and with them (medians)")
    .option('--streams <n>', `event streams held open on the leader (at most ${dashboardStreamsMax})`, String(d.streams))
    .option('--repeats <n>', 'pairs of phases (without, with)', String(d.repeats))
    .option('--phase-ms <ms>', 'length of each phase', String(d.phaseMs))
    .option('--runs-per-second <n>', 'runs submitted per second', String(d.runsPerSecond))
    .option('--tasks-per-run <n>', 'tasks in each run', String(d.tasksPerRun))
    .option('--workers <n>', 'noop workers', String(d.workers))
    .option('--slots <n>', 'slots per worker', String(d.slots))
    .action(async (o: Record<string, string>) => {
      const streams = positiveIntFlag('--streams', o['streams']!);
      if (streams > dashboardStreamsMax) throw new UsageError(`--streams must be at most ${dashboardStreamsMax} (the per-coordinator cap), got ${streams}`);
      const result = await runDashboardBench(
        {
          streams,
          repeats: positiveIntFlag('--repeats', o['repeats']!),
          phaseMs: positiveIntFlag('--phase-ms', o['phaseMs']!),
          runsPerSecond: positiveIntFlag('--runs-per-second', o['runsPerSecond']!),
          tasksPerRun: positiveIntFlag('--tasks-per-run', o['tasksPerRun']!),
          workers: positiveIntFlag('--workers', o['workers']!),
          slots: positiveIntFlag('--slots', o['slots']!),
        },
        progress,
      );
      write(`${JSON.stringify(result)}\n`);
    });
}

/** --prefetch-per-slot: a number in 0..prefetchPerSlotMax, or undefined when not given. */
function prefetchPerSlotFlag(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !(n >= 0 && n <= prefetchPerSlotMax)) throw new UsageError(`--prefetch-per-slot must be a number in 0..${prefetchPerSlotMax}, got "${raw}"`);
  return n;
}

function loadOp(raw: string): LoadOp {
  if (raw !== 'put' && raw !== 'get') throw new UsageError(`--op must be put or get, got "${raw}"`);
  return raw;
}

function readModeFlag(raw: string | undefined): ReadMode | undefined {
  if (raw !== undefined && raw !== 'safe' && raw !== 'lease') throw new UsageError(`--read-mode must be safe or lease, got "${raw}"`);
  return raw;
}
