// `testudo runs compare <base> <head>`: the tests that newly fail, newly pass
// and changed most in duration between two runs (src/report/compare.ts).
// Data on stdout (text, or one JSON document with --json); errors on stderr.
// Exit 0 when compared, 2 for bad flags or a run id the cluster does not
// know, 3 when the cluster cannot be reached, 4 when it refuses the token.
import { Option, type Command } from 'commander';
import { NotFoundError, TestudoClient, type TestudoClientOptions } from '../client/index.js';
import type { RunView } from '../model/index.js';
import { compareRuns, durationChangesDefault, durationChangesMax, formatComparison } from '../report/compare.js';
import { tokenOptions, withTokenFile } from './auth-flags.js';
import { ExitError, UsageError } from './errors.js';
import { integerFlag } from './flags.js';
import { coordinatorsOf, isUnreachable, type ConnectOptions } from './run-cmds.js';
import { clientTlsOf, withTlsOptions } from './tls-flags.js';

type Write = (text: string) => void;

export interface CompareIo {
  readonly out: Write;
  readonly err: Write;
}

/** How long the command keeps trying to reach the cluster by default (then exit 3). */
export const compareWaitMsDefault = 5_000;

/** The exit code of a cluster that cannot be reached (src/cli/errors.ts's table). */
const exitUnreachable = 3;

interface CompareOptions extends ConnectOptions {
  json?: boolean;
  top: string;
}

/** Fetches both runs; an unknown id is a usage error (exit 2) naming it. */
async function fetchRuns(client: Pick<TestudoClient, 'getRun'>, ids: readonly [string, string]): Promise<[RunView, RunView]> {
  const get = (id: string): Promise<RunView> =>
    client.getRun(id).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw new UsageError(`no run ${id} in the cluster (testudo runs list shows the runs it knows)`);
      throw error;
    });
  return Promise.all([get(ids[0]), get(ids[1])]);
}

async function compareAction(base: string, head: string, options: CompareOptions, io: CompareIo, create: (o: TestudoClientOptions) => TestudoClient): Promise<void> {
  const top = integerFlag('--top', options.top, 0, durationChangesMax);
  const endpoints = coordinatorsOf(options);
  const waitMs = options.timeoutMs === undefined ? compareWaitMsDefault : integerFlag('--timeout-ms', options.timeoutMs, 1);
  const client = create({
    endpoints,
    totalTimeoutMs: waitMs,
    callTimeoutMs: Math.min(waitMs, 10_000),
    ...clientTlsOf(options),
    ...tokenOptions(options.tokenFile),
  });
  let runs: [RunView, RunView];
  try {
    runs = await fetchRuns(client, [base, head]);
  } catch (error) {
    if (!isUnreachable(error)) throw error;
    const local = options.coordinators === undefined && options.endpoints === undefined && process.env['TESTUDO_ENDPOINTS'] === undefined;
    io.err(`testudo: cannot reach the Testudo cluster at ${endpoints.join(',')} (tried for ${waitMs} ms)${local ? '; start a local one with testudo up' : ''}\n`);
    throw new ExitError(exitUnreachable);
  } finally {
    client.close();
  }
  const comparison = compareRuns(runs[0], runs[1], { durationChanges: top });
  io.out(options.json === true ? `${JSON.stringify(comparison, null, 2)}\n` : formatComparison(comparison));
}

/** Adds `compare` to the `runs` command (registered by run-cmds.ts). */
export function registerCompareCommand(program: Command, io: CompareIo, create: (o: TestudoClientOptions) => TestudoClient = (o) => new TestudoClient(o)): void {
  const runs = program.commands.find((c) => c.name() === 'runs');
  if (runs === undefined) throw new Error('the runs command must be registered before runs compare');
  withTlsOptions(withTokenFile(runs.command('compare')), 'this client')
    .description('the tests that newly fail, newly pass, and changed most in duration from run <base> to run <head>')
    .argument('<base>', 'the run to compare against (e.g. the last run of main)')
    .argument('<head>', 'the run to compare')
    .option('--coordinators <list>', 'coordinators to talk to, host:port,… (env TESTUDO_ENDPOINTS; default the local cluster of testudo up)')
    .option('--json', 'print the comparison as one JSON document')
    .option('--top <n>', `how many duration changes to list (0..${durationChangesMax})`, String(durationChangesDefault))
    .addOption(new Option('--endpoints <list>', 'same as --coordinators').hideHelp())
    .addOption(new Option('--timeout-ms <ms>', 'give up reaching the cluster after this long').hideHelp())
    .action(async (base: string, head: string, options: CompareOptions) => {
      if (base === head) throw new UsageError('give two different run ids');
      await compareAction(base, head, options, io, create);
    });
}
