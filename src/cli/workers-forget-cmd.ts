import { Option, type Command } from 'commander';

import { InvalidArgumentError, NotFoundError, TestudoClient } from '../client/index.js';
import { tokenOptions, withTokenFile } from './auth-flags.js';
import { ExitError } from './errors.js';
import { positiveIntFlag } from './flags.js';
import { coordinatorsOf, isUnreachable, type ConnectOptions } from './run-cmds.js';
import { clientTlsOf, withTlsOptions } from './tls-flags.js';

/** Longest the command tries, retries included, unless --timeout-ms says otherwise. */
const forgetTimeoutMsDefault = 30_000;
/** Exit codes of this command (the CLI's one table, docs/security.md). */
const exitRefused = 1;
const exitUnreachable = 3;

type Write = (text: string) => void;

interface ForgetOptions extends ConnectOptions {
  reason?: string;
}

/**
 * `testudo workers forget <id>`: releases a lost worker's id from the
 * session key it is bound to, so that a rebuilt machine can register under
 * the old id with a new key (docs/security.md, "Worker identity"). Admin
 * only; replicated through Raft; every call writes an audit line. Adds
 * itself under the `workers` command that run-cmds.ts makes.
 */
export function registerWorkersForgetCommand(program: Command, write: Write, writeErr: Write = write): void {
  const workers = program.commands.find((c) => c.name() === 'workers') ?? program.command('workers').description('list, drain and release workers');
  const forget = workers
    .command('forget')
    .description("release a lost worker's id from its session key, so a rebuilt machine can register under it (admin; the worker must be declared lost)")
    .argument('<workerId>')
    .option('--reason <text>', 'why (kept in the audit line)');
  withTlsOptions(withTokenFile(forget), 'this client')
    .option('--coordinators <list>', 'coordinators to talk to, host:port,… (env TESTUDO_ENDPOINTS)')
    .addOption(new Option('--endpoints <list>', 'same as --coordinators').hideHelp())
    .addOption(new Option('--timeout-ms <ms>', 'give up after this long without an answer, retries included').hideHelp())
    .action(async (workerId: string, options: ForgetOptions) => {
      const result = await forgetWorker(workerId, options, writeErr);
      write(`worker ${workerId}: ${result.wasBound ? 'session key forgotten; the next worker to register under this id binds its own' : 'was bound to no session key; nothing to forget'}\n`);
    });
}

async function forgetWorker(workerId: string, options: ForgetOptions, writeErr: Write): Promise<{ wasBound: boolean }> {
  const endpoints = coordinatorsOf(options);
  const timeoutMs = options.timeoutMs === undefined ? forgetTimeoutMsDefault : positiveIntFlag('--timeout-ms', options.timeoutMs);
  const client = new TestudoClient({ endpoints, totalTimeoutMs: timeoutMs, callTimeoutMs: Math.min(timeoutMs, 10_000), ...clientTlsOf(options), ...tokenOptions(options.tokenFile) });
  try {
    return await client.forgetWorker(workerId, options.reason ?? '');
  } catch (error) {
    if (isUnreachable(error)) {
      writeErr(`testudo: cannot reach the Testudo cluster at ${endpoints.join(',')}: ${(error as Error).message}\n`);
      throw new ExitError(exitUnreachable);
    }
    // Unknown, still connected, or not yet declared lost: said by the leader, nothing changed.
    if (error instanceof NotFoundError || error instanceof InvalidArgumentError) {
      writeErr(`testudo: ${(error as Error).message}\n`);
      throw new ExitError(exitRefused);
    }
    throw error;
  } finally {
    client.close();
  }
}
