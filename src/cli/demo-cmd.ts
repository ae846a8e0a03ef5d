import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import type { Command } from 'commander';

import { TestudoClient } from '../client/index.js';
import { LocalCluster } from '../cluster/local-cluster.js';
import { ExitError } from './errors.js';
import { loadSubmission, runCommand, RunExitCode } from './run-cmds.js';
import { integerFlag } from './flags.js';
import { dashboardLine } from '../dashboard/url.js';
import { exampleSpecPath, positiveInt, startLocalCoordinators, startLocalWorkers, waitOrExplain } from './up-cmd.js';

/** Longest the demo waits for a leader and its workers' sessions. */
export const demoReadyTimeoutMs = 60_000;

export { exampleSpecPath };

export function registerDemoCommand(program: Command, write: (text: string) => void): void {
  program
    .command('demo')
    .description('the embedded default: start 3 coordinators and 3 workers on 127.0.0.1, run the bundled example suite, write the reports, stop everything')
    .option('-f, --file <spec>', 'run this spec instead of the bundled example')
    .option('--coordinators <n>', 'number of coordinators', '3')
    .option('--workers <n>', 'number of workers', '3')
    .option('--worker-slots <n>', 'tasks each worker runs at once', '2')
    .option('--report-dir <dir>', 'where the reports go', 'testudo-reports')
    .option('--data-dir <dir>', 'keep the cluster data here (default: a temp dir, removed afterwards)')
    .option('--no-progress', 'no live progress')
    .action(async (options: { file?: string; coordinators: string; workers: string; workerSlots: string; reportDir: string; dataDir?: string; progress: boolean }) => {
      const coordinators = integerFlag('--coordinators', options.coordinators, 1, 9);
      const workers = integerFlag('--workers', options.workers, 1, 64);
      const workerSlots = positiveInt('--worker-slots', options.workerSlots);
      const spec = resolve(options.file ?? exampleSpecPath());
      // A bad spec is reported (exit 2) before any process is started for it.
      if (options.file !== undefined) await loadSubmission(spec, undefined, write);
      const dataDir = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'testudo-demo-')) : resolve(options.dataDir);
      const cluster = new LocalCluster({ coordinators, dataDir, basePort: 0, baseHttpPort: 0 });
      let code: number = RunExitCode.ok;
      try {
        write(`starting ${coordinators} coordinators and ${workers} workers on 127.0.0.1 (data in ${dataDir})…\n`);
        const client = (): TestudoClient => new TestudoClient({ endpoints: cluster.endpoints(), totalTimeoutMs: demoReadyTimeoutMs, callTimeoutMs: 2000 });
        await startLocalCoordinators(cluster, client);
        await startLocalWorkers(cluster, { workers, workerSlots });
        await waitOrExplain(cluster, client, { timeoutMs: demoReadyTimeoutMs, workers });
        write(`cluster ready: ${cluster.endpoints().join(', ')}\n`);
        const firstHttp = [...cluster.members.values()].find((m) => m.httpAddress !== null)?.httpAddress;
        if (firstHttp !== undefined && firstHttp !== null) write(`${dashboardLine(firstHttp)}\n`);
        write('\n');
        try {
          await runCommand({ file: spec, reportDir: options.reportDir, progress: options.progress, coordinators: cluster.endpoints().join(',') }, write, {});
        } catch (error) {
          if (!(error instanceof ExitError)) throw error;
          code = error.exitCode;
        }
        if (code === RunExitCode.failed && options.file === undefined) {
          write('\nThe example suite holds one deliberately failing test (examples/suite/failing) so the reports show a failure; the demo itself worked.\n');
          code = RunExitCode.ok;
        }
        write(`\nReports: ${resolve(options.reportDir)}/testudo-report.{xml,json,md,html}\n`);
      } finally {
        write('stopping the workers and coordinators…\n');
        await cluster.stop();
        if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
        write('demo finished\n');
      }
      if (code !== RunExitCode.ok) throw new ExitError(code);
    });
}
