import type { Command } from 'commander';

import { CertsError, certDaysMax, certsInitDefaults, initCerts } from '../security/certs.js';
import { UsageError } from './errors.js';
import { integerFlag } from './flags.js';
import type { CliIo } from './io.js';

/** `testudo certs init DIR`: a development CA and certificates for a local cluster, made with openssl. */
export function registerCertsCommand(program: Command, io: CliIo): void {
  const write = io.out;
  const certs = program.command('certs').description('TLS material for a development cluster');
  certs
    .command('init')
    .description(
      'make a development CA and certificates with openssl in DIR: ca.pem, node.pem (coordinators on this machine: localhost, 127.0.0.1, ::1), ' +
        '<host>.pem per --hosts entry, <identity>.pem per --identities entry (CN=<identity>), each with a -key.pem of mode 0600; ' +
        'with --tokens also tokens/<id>.token per --peers entry (a coordinator\'s --token-file), tokens/worker|client|admin|readonly.token (mode 0600) ' +
        'and auth.yaml (the coordinators\' --auth-file, SHA-256 hashes only); prints what it wrote. For development and tests: production certificates come from your own CA. See docs/security.md',
    )
    .argument('<dir>', 'where to write (created with mode 0700 if missing)')
    .option('--hosts <list>', 'coordinator host names or IPs, a,b,… (e.g. n1,n2,n3): one server certificate each, naming that host and loopback', '')
    .option('--identities <list>', 'client identities, a,b,…: one client certificate each', certsInitDefaults.identities.join(','))
    .option('--days <n>', `validity in days, 1..${certDaysMax}`, String(certsInitDefaults.days))
    .option('--tokens', 'also write random tokens (tokens/<name>.token, mode 0600) and auth.yaml holding their SHA-256 hashes')
    .option('--peers <list>', `with --tokens: the coordinators' node ids, a,b,…: one peer token each (default ${certsInitDefaults.peers.join(',')})`)
    .option('--force', 'overwrite files that exist')
    .action(async (dir: string, options: { hosts: string; identities: string; days: string; tokens?: boolean; peers?: string; force?: boolean }) => {
      const days = integerFlag('--days', options.days, 1, certDaysMax);
      if (options.peers !== undefined && options.tokens !== true) throw new UsageError('certs init: --peers needs --tokens');
      const tokenPeers = options.tokens === true ? (options.peers === undefined ? [...certsInitDefaults.peers] : listOf(options.peers)) : null;
      let written;
      try {
        written = await initCerts({ dir, hosts: listOf(options.hosts), identities: listOf(options.identities), days, force: options.force === true, tokenPeers });
      } catch (error) {
        if (error instanceof CertsError) throw new UsageError(`certs init: ${error.message}`);
        throw error;
      }
      const width = Math.max(...written.map((f) => f.path.length));
      for (const f of written) write(`${f.path.padEnd(width)}  ${f.mode.toString(8).padStart(4, '0')}  ${f.what}\n`);
    });
}

function listOf(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
