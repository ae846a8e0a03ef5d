#!/usr/bin/env node
/**
 * The `testudo` command: run a coordinator or a local cluster, talk to a
 * cluster (kv, cluster), inspect Raft storage, benchmark and drill.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { inspectDataDir } from './inspect.js';
import { CorruptionError, DurableStateRolledBackError } from '../raft/index.js';
import { AuthRefusedError, InvalidArgumentError } from '../client/index.js';
import { printableLines } from '../common/printable.js';
import { authRefusedMessage, exitAuthRefused, ExitError, UsageError } from './errors.js';
import { nonNegativeIntFlag } from './flags.js';
import { registerClusterCommands, registerKvCommands } from './client-cmds.js';
import { registerCoordinatorCommand } from './coordinator-cmd.js';
import { registerUpCommand } from './up-cmd.js';
import { registerWorkerCommand } from './worker-cmd.js';
import { registerRunCommands } from './run-cmds.js';
import { registerCompareCommand } from './compare-cmd.js';
import { registerDemoCommand } from './demo-cmd.js';
import { registerBenchCommands } from './bench-cmds.js';
import { registerToxiproxyCommand } from './toxiproxy-cmd.js';
import { registerChaosCommands } from './chaos-cmds.js';
import { registerCertsCommand } from './certs-cmd.js';
import { registerSnapshotCommands } from './snapshot-cmd.js';
import { testudoVersion } from '../common/version.js';

/** Exit codes shared by every command. */
export const ExitCode = { ok: 0, failure: 1, usage: 2, authRefused: 4 } as const;
/** `raft inspect` of a directory a coordinator would refuse (damaged, or older than its durable record). */
const exitDamagedData = 3;

/**
 * `write` takes the commands' output (stdout); `writeErr` the parser's
 * complaints and help on errors (stderr).
 */
export function buildProgram(write: (text: string) => void, writeErr: (text: string) => void = write): Command {
  const program = new Command('testudo')
    .description('Testudo: a Raft-replicated distributed test orchestrator')
    .version(testudoVersion)
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr });
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
        writeErr(`testudo: ${error.message}\n`);
        throw new ExitError(exitDamagedData);
      });
      write(`${JSON.stringify(report, null, 2)}\n`);
      // The report is printed either way; the exit code says the data is damaged.
      if (report.durable.problems.length > 0) throw new ExitError(exitDamagedData);
    });
  registerCoordinatorCommand(program, write);
  registerUpCommand(program, write);
  registerWorkerCommand(program, write);
  registerKvCommands(program, write);
  registerClusterCommands(program, write);
  registerRunCommands(program, write);
  registerCompareCommand(program, { out: write, err: writeErr });
  registerDemoCommand(program, write);
  registerBenchCommands(program, write);
  registerToxiproxyCommand(program, write);
  registerChaosCommands(program, write);
  registerCertsCommand(program, write);
  registerSnapshotCommands(program, write, writeErr);
  return program;
}

export { UsageError };

/**
 * Runs one command line; returns its exit code. Errors that end the command
 * go to `writeErr` with control characters escaped (they may quote a flag
 * value or a file's bytes). A bad argument is exit 2 wherever it is caught:
 * by the parser, by a command (UsageError) or by the client or the server
 * (InvalidArgumentError).
 */
export async function main(argv: readonly string[], write: (text: string) => void, writeErr: (text: string) => void = write): Promise<number> {
  try {
    await buildProgram(write, writeErr).parseAsync([...argv], { from: 'user' });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    if (err instanceof ExitError) return err.exitCode;
    if (err instanceof UsageError) {
      writeErr(`testudo: ${printableLines(err.message)}\n`);
      return ExitCode.usage;
    }
    if (err instanceof AuthRefusedError) {
      writeErr(printableLines(authRefusedMessage(err)));
      return exitAuthRefused;
    }
    const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    writeErr(`testudo: ${printableLines(text)}\n`);
    return err instanceof InvalidArgumentError ? ExitCode.usage : ExitCode.failure;
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
