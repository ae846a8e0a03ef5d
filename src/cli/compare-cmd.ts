// `testudo runs compare <base> <head>`: the tests that newly fail, newly pass
// and changed most in duration between two runs (src/report/compare.ts).
// Data on stdout (text, or one JSON document with --json); errors on stderr.
// Exit 0 when compared, 1 for a run id the cluster does not know, 2 for bad
// flags, 3 when the cluster cannot be reached, 4 when it refuses the token
// (docs/cli.md#exit-codes).
import type { Command } from 'commander';
import { NotFoundError, type TestudoClient } from '../client/index.js';
import type { RunView } from '../model/index.js';
import { compareRuns, durationChangesDefault, durationChangesMax, formatComparison } from '../report/compare.js';
import { connectionOf, realClient, withCluster, withConnectOptions, type ClientFactory, type ConnectOptions } from './connect.js';
import { ExitCode, ExitError, UsageError } from './errors.js';
import { integerFlag } from './flags.js';
import type { CliIo } from './io.js';

interface CompareOptions extends ConnectOptions {
  json?: boolean;
  top: string;
}

/** Fetches both runs; an unknown id ends the command with exit 1 naming it, like `runs show`. */
async function fetchRuns(client: Pick<TestudoClient, 'getRun'>, ids: readonly [string, string], io: CliIo): Promise<[RunView, RunView]> {
  const get = (id: string): Promise<RunView> =>
    client.getRun(id).catch((error: unknown) => {
      if (!(error instanceof NotFoundError)) throw error;
      io.err(`testudo: no run ${id} in the cluster (testudo runs list shows the runs it knows)\n`);
      throw new ExitError(ExitCode.failed);
    });
  return Promise.all([get(ids[0]), get(ids[1])]);
}

/** Adds `compare` to the `runs` command (registered by run-cmds.ts). */
export function registerCompareCommand(program: Command, io: CliIo, create: ClientFactory<TestudoClient> = realClient): void {
  const runs = program.commands.find((c) => c.name() === 'runs');
  if (runs === undefined) throw new Error('the runs command must be registered before runs compare');
  withConnectOptions(runs.command('compare'))
    .description('the tests that newly fail, newly pass, and changed most in duration from run <base> to run <head>')
    .argument('<base>', 'the run to compare against (e.g. the last run of main)')
    .argument('<head>', 'the run to compare')
    .option('--json', 'print the comparison as one JSON document')
    .option('--top <n>', `how many duration changes to list (0..${durationChangesMax})`, String(durationChangesDefault))
    .action(async (base: string, head: string, options: CompareOptions) => {
      if (base === head) throw new UsageError('give two different run ids');
      const top = integerFlag('--top', options.top, 0, durationChangesMax);
      const runsFound = await withCluster(connectionOf(options, io.err), create, (client) => fetchRuns(client, [base, head], io));
      const comparison = compareRuns(runsFound[0], runsFound[1], { durationChanges: top });
      io.out(options.json === true ? `${JSON.stringify(comparison, null, 2)}\n` : formatComparison(comparison));
    });
}
