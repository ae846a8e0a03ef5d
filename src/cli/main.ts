#!/usr/bin/env node
/**
 * The `testudo` command: run a coordinator or a local cluster, talk to a
 * cluster (kv, cluster), inspect Raft storage, benchmark and drill.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { inspectDataDir } from './inspect.js';
import { CorruptionError, DurableStateRolledBackError } from '../raft/index.js';
import { ExitCode, ExitError, UsageError, failureOf } from './errors.js';
import { nonNegativeIntFlag } from './flags.js';
import type { CliIo, Write } from './io.js';
import { registerClusterCommands, registerKvCommands } from './client-cmds.js';
import { registerCoordinatorCommand } from './coordinator-cmd.js';
import { registerUpCommand } from './up-cmd.js';
import { registerWorkerCommand } from './worker-cmd.js';
import { registerRunCommand } from './run-cmd.js';
import { registerRunsCommands } from './run-cmds.js';
import { registerCompareCommand } from './compare-cmd.js';
import { registerDemoCommand } from './demo-cmd.js';
import { registerBenchCommands } from './bench-cmds.js';
import { registerToxiproxyCommand } from './toxiproxy-cmd.js';
import { registerChaosCommands } from './chaos-cmds.js';
import { registerCertsCommand } from './certs-cmd.js';
import { registerSnapshotCommands } from './snapshot-cmd.js';
import { registerWorkersForgetCommand } from './workers-forget-cmd.js';
import { testudoVersion } from '../common/version.js';

export { ExitCode };

/** The end of `testudo --help`: the streams and the exit-code table, in short. */
export const helpEpilogue = `
Output: results and data on stdout (one JSON document with --json); progress, warnings and errors on stderr.
Exit codes (every command; docs/cli.md#exit-codes):
  0  ok
  1  tests failed or the run was cancelled (also: the run, worker or key asked for does not exist)
  2  usage or spec error
  3  cluster unreachable, no leader, or damaged data
  4  refused by the cluster's authentication
`;

/**
 * `io.out` takes the commands' results (stdout); `io.err` their progress,
 * warnings and errors, and the parser's complaints (stderr). Help asked for
 * is a result (stdout).
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command('testudo')
    .description('Testudo: a Raft-replicated distributed test orchestrator')
    .version(testudoVersion)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .addHelpText('after', helpEpilogue);
  const raft = program.command('raft').description('inspect Raft storage');
  raft
    .command('inspect')
    .description("validate a node's data directory (every checksum, the durable record) and print its Raft state as JSON; reads a copy, never changes the directory; exit 3 when damaged")
    .argument('<dir>', 'the data directory')
    .requiredOption('--node-id <id>', 'the node the directory belongs to')
    .option('--entries <n>', 'also print the last n log entries (type, term, index, bytes)', '0')
    .action(async (dir: string, options: { nodeId: string; entries: string }) => {
      const tail = nonNegativeIntFlag('--entries', options.entries);
      const report = await inspectDataDir(dir, options.nodeId, tail).catch((error: unknown) => {
        if (!(error instanceof CorruptionError || error instanceof DurableStateRolledBackError)) throw error;
        io.err(`testudo: ${error.message}\n`);
        throw new ExitError(ExitCode.unavailable);
      });
      io.out(`${JSON.stringify(report, null, 2)}\n`);
      // The report is printed either way; the exit code says the data is damaged.
      if (report.durable.problems.length > 0) throw new ExitError(ExitCode.unavailable);
    });
  registerCoordinatorCommand(program, io);
  registerUpCommand(program, io);
  registerWorkerCommand(program, io);
  registerKvCommands(program, io);
  registerClusterCommands(program, io);
  registerRunCommand(program, io);
  registerRunsCommands(program, io);
  registerCompareCommand(program, io);
  registerWorkersForgetCommand(program, io);
  registerDemoCommand(program, io);
  registerBenchCommands(program, io);
  registerToxiproxyCommand(program, io);
  registerChaosCommands(program, io);
  registerCertsCommand(program, io);
  registerSnapshotCommands(program, io);
  return program;
}

export { UsageError };

/**
 * Runs one command line; returns its exit code (the table in errors.ts,
 * docs/cli.md#exit-codes). What ends a command is said on `writeErr`.
 */
export async function main(argv: readonly string[], write: Write, writeErr: Write = write): Promise<number> {
  try {
    await buildProgram({ out: write, err: writeErr }).parseAsync([...argv], { from: 'user' });
    return ExitCode.ok;
  } catch (err) {
    const failure = failureOf(err);
    if (failure.message !== '') writeErr(failure.message);
    return failure.code;
  }
}

/** True when this file is the program (npm runs bins through a symlink, so compare real paths). */
function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = await main(
    process.argv.slice(2),
    (text) => process.stdout.write(text),
    (text) => process.stderr.write(text),
  );
}
