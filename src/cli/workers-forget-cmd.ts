import type { Command } from 'commander';

import { InvalidArgumentError, NotFoundError } from '../client/index.js';
import { connectionOf, realClient, withCluster, withConnectOptions, type ConnectOptions } from './connect.js';
import { ExitCode, ExitError } from './errors.js';
import type { CliIo } from './io.js';

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
export function registerWorkersForgetCommand(program: Command, io: CliIo): void {
  const workers = program.commands.find((c) => c.name() === 'workers') ?? program.command('workers').description('list, drain and release workers');
  withConnectOptions(
    workers
      .command('forget')
      .description("release a lost worker's id from its session key, so a rebuilt machine can register under it (admin; the worker must be declared lost)")
      .argument('<workerId>'),
  )
    .option('--reason <text>', 'why (kept in the audit line)')
    .action(async (workerId: string, options: ForgetOptions) => {
      const connection = connectionOf(options, io.err);
      const result = await withCluster(connection, realClient, async (client) => {
        try {
          return await client.forgetWorker(workerId, options.reason ?? '');
        } catch (error) {
          // Unknown, still connected, or not yet declared lost: said by the leader, nothing changed.
          if (!(error instanceof NotFoundError || error instanceof InvalidArgumentError)) throw error;
          io.err(`testudo: ${error.message}\n`);
          throw new ExitError(ExitCode.failed);
        }
      });
      io.out(`worker ${workerId}: ${result.wasBound ? 'session key forgotten; the next worker to register under this id binds its own' : 'was bound to no session key; nothing to forget'}\n`);
    });
}
