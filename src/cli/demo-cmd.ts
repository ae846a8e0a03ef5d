import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { Option, type Command } from 'commander';

import { TestudoClient } from '../client/index.js';
import { LocalCluster } from '../cluster/local-cluster.js';
import { ExitError } from './errors.js';
import { RunExitCode } from './run-cmds.js';
import { loadSubmission, runCommand } from './run-cmd.js';
import type { CliIo } from './io.js';
import { integerFlag } from './flags.js';
import { dashboardLine } from '../dashboard/url.js';
import { exampleSpecPath, localReplicas, positiveInt, replicasDefault, replicasMax, startLocalCoordinators, startLocalWorkers, waitOrExplain } from './up-cmd.js';

/** Longest the demo waits for a leader and its workers' sessions. */
export const demoReadyTimeoutMs = 60_000;

export { exampleSpecPath };

/** The run's summary goes to stdout; the cluster's start and stop, and the run's progress, to stderr. */
export function registerDemoCommand(program: Command, io: CliIo): void {
  const note = io.err;
  program
    .command('demo')
    .description('the embedded default: start 3 coordinators and 3 workers on 127.0.0.1, run the bundled example suite, write the reports, stop everything')
    .option('-f, --file <spec>', 'run this spec instead of the bundled example')
    .option('--replicas <n>', `number of coordinators, 1..${replicasMax} (default ${replicasDefault})`)
    .addOption(new Option('--coordinators <n>', 'deprecated: --replicas').hideHelp())
    .option('--workers <n>', 'number of workers', '3')
    .option('--worker-slots <n>', 'tasks each worker runs at once', '2')
    .option('--report-dir <dir>', 'where the reports go', 'testudo-reports')
    .option('--data-dir <dir>', 'keep the cluster data here (default: a temp dir, removed afterwards)')
    .option('--no-progress', 'no live progress')
    .action(async (options: { file?: string; replicas?: string; coordinators?: string; workers: string; workerSlots: string; reportDir: string; dataDir?: string; progress: boolean }) => {
      const coordinators = localReplicas(options, io.err);
      const workers = integerFlag('--workers', options.workers, 1, 64);
      const workerSlots = positiveInt('--worker-slots', options.workerSlots);
      const spec = resolve(options.file ?? exampleSpecPath());
      // A bad spec is reported (exit 2) before any process is started for it.
      if (options.file !== undefined) await loadSubmission(spec, {}, io.err);
      const dataDir = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'testudo-demo-')) : resolve(options.dataDir);
      const cluster = new LocalCluster({ coordinators, dataDir, basePort: 0, baseHttpPort: 0 });
      let code: number = RunExitCode.ok;
      try {
        note(`starting ${coordinators} coordinators and ${workers} workers on 127.0.0.1 (data in ${dataDir})…\n`);
        const client = (): TestudoClient => new TestudoClient({ endpoints: cluster.endpoints(), totalTimeoutMs: demoReadyTimeoutMs, callTimeoutMs: 2000 });
        await startLocalCoordinators(cluster, client);
        await startLocalWorkers(cluster, { workers, workerSlots });
        await waitOrExplain(cluster, client, { timeoutMs: demoReadyTimeoutMs, workers });
        note(`cluster ready: ${cluster.endpoints().join(', ')}\n`);
        const firstHttp = [...cluster.members.values()].find((m) => m.httpAddress !== null)?.httpAddress;
        if (firstHttp !== undefined && firstHttp !== null) note(`${dashboardLine(firstHttp)}\n`);
        note('\n');
        try {
          await runCommand(spec, { reportDir: options.reportDir, progress: options.progress, coordinators: cluster.endpoints().join(',') }, io, {});
        } catch (error) {
          if (!(error instanceof ExitError)) throw error;
          code = error.exitCode;
        }
        if (code === RunExitCode.failed && options.file === undefined) {
          note('\nThe example suite holds one deliberately failing test (examples/suite/failing) so the reports show a failure; the demo itself worked.\n');
          code = RunExitCode.ok;
        }
        note(`\nReports: ${resolve(options.reportDir)}/testudo-report.{xml,json,md,html}\n`);
      } finally {
        note('stopping the workers and coordinators…\n');
        await cluster.stop();
        if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
        note('demo finished\n');
      }
      if (code !== RunExitCode.ok) throw new ExitError(code);
    });
}
