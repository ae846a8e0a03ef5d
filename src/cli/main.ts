#!/usr/bin/env node
/**
 * The `testudo` command: run a coordinator or a local cluster, talk to a
 * cluster (kv, cluster), inspect Raft storage, benchmark and drill.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { CorruptionError, DurableStateRolledBackError } from '../raft/core/errors.js';
import { ExitCode, ExitError, UsageError, failureOf } from './errors.js';
import { nonNegativeIntFlag } from './flags.js';
import type { CliIo, Write } from './io.js';
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

type Register = (program: Command, io: CliIo) => void;

/**
 * Each module's top-level commands, in the order `testudo --help` lists
 * them. A command line loads only the modules of the command it names
 * (every one when it names none, e.g. `--help`): they import the
 * coordinator, the worker, the chaos module and the benchmarks, and loading
 * them all cost every `testudo` process about 1 s of CPU, worker and client
 * commands included. test/cli/contract.test.ts checks this table against
 * the commands each module registers.
 */
export const commandModules: readonly { readonly commands: readonly string[]; readonly load: () => Promise<readonly Register[]> }[] = [
  { commands: ['coordinator'], load: async () => [(await import('./coordinator-cmd.js')).registerCoordinatorCommand] },
  { commands: ['up'], load: async () => [(await import('./up-cmd.js')).registerUpCommand] },
  { commands: ['worker'], load: async () => [(await import('./worker-cmd.js')).registerWorkerCommand] },
  {
    commands: ['kv', 'cluster'],
    load: async () => {
      const m = await import('./client-cmds.js');
      return [m.registerKvCommands, m.registerClusterCommands];
    },
  },
  { commands: ['run'], load: async () => [(await import('./run-cmd.js')).registerRunCommand] },
  // `runs compare` and `workers forget` join the groups run-cmds.ts makes.
  {
    commands: ['runs', 'workers'],
    load: async () => [
      (await import('./run-cmds.js')).registerRunsCommands,
      (await import('./compare-cmd.js')).registerCompareCommand,
      (await import('./workers-forget-cmd.js')).registerWorkersForgetCommand,
    ],
  },
  { commands: ['demo'], load: async () => [(await import('./demo-cmd.js')).registerDemoCommand] },
  { commands: ['bench', 'drill'], load: async () => [(await import('./bench-cmds.js')).registerBenchCommands] },
  { commands: ['toxiproxy'], load: async () => [(await import('./toxiproxy-cmd.js')).registerToxiproxyCommand] },
  { commands: ['chaos'], load: async () => [(await import('./chaos-cmds.js')).registerChaosCommands] },
  { commands: ['certs'], load: async () => [(await import('./certs-cmd.js')).registerCertsCommand] },
  { commands: ['snapshot'], load: async () => [(await import('./snapshot-cmd.js')).registerSnapshotCommands] },
];

/**
 * `io.out` takes the commands' results (stdout); `io.err` their progress,
 * warnings and errors, and the parser's complaints (stderr). Help asked for
 * is a result (stdout). With `argv`, only the modules of the command it
 * names are loaded: none for `raft`, all of them when it names no command
 * of `commandModules` (help, an unknown command).
 */
export async function buildProgram(io: CliIo, argv?: readonly string[]): Promise<Command> {
  const registers = (await Promise.all(modulesFor(argv?.find((arg) => !arg.startsWith('-'))).map((m) => m.load()))).flat();
  const program = baseProgram(io);
  for (const register of registers) register(program, io);
  return program;
}

/** The modules a command line naming `named` (its first word that is not an option) needs. */
function modulesFor(named: string | undefined): typeof commandModules {
  if (named === 'raft') return [];
  const own = commandModules.filter((m) => named !== undefined && m.commands.includes(named));
  return own.length > 0 ? own : commandModules;
}

/** The program with its own options and the `raft` command, which needs none of `commandModules`. */
function baseProgram(io: CliIo): Command {
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
      const { inspectDataDir } = await import('./inspect.js');
      const report = await inspectDataDir(dir, options.nodeId, tail).catch((error: unknown) => {
        if (!(error instanceof CorruptionError || error instanceof DurableStateRolledBackError)) throw error;
        io.err(`testudo: ${error.message}\n`);
        throw new ExitError(ExitCode.unavailable);
      });
      io.out(`${JSON.stringify(report, null, 2)}\n`);
      // The report is printed either way; the exit code says the data is damaged.
      if (report.durable.problems.length > 0) throw new ExitError(ExitCode.unavailable);
    });
  return program;
}

export { UsageError };

/**
 * Runs one command line; returns its exit code (the table in errors.ts,
 * docs/cli.md#exit-codes). What ends a command is said on `writeErr`.
 */
export async function main(argv: readonly string[], write: Write, writeErr: Write = write): Promise<number> {
  try {
    await (await buildProgram({ out: write, err: writeErr }, argv)).parseAsync([...argv], { from: 'user' });
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
  // A reader that went away (`testudo … | head`) gets no more output, and the command still ends
  // with its own exit code: a run is not cut short, nor reported passed, because its reader left.
  let stdoutGone = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') throw error;
    stdoutGone = true;
  });
  process.exitCode = await main(
    process.argv.slice(2),
    (text) => {
      if (!stdoutGone) process.stdout.write(text);
    },
    (text) => process.stderr.write(text),
  );
}
