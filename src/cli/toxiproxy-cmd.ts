import type { Command } from 'commander';
import { splitHostPort, startToxiproxyServer, TOXIPROXY_VERSION } from '../failure-injection/toxiproxy/index.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';

export function registerToxiproxyCommand(program: Command, io: CliIo): void {
  program
    .command('toxiproxy')
    .description(`run the built-in fault proxy: Toxiproxy ${TOXIPROXY_VERSION}'s HTTP API (proxies, toxics, populate, reset, version) until Ctrl-C or SIGTERM`)
    .option('--listen <host:port>', 'address of the HTTP API (port 0 picks a free one)', '127.0.0.1:8474')
    .option('--seed <n>', 'seed of the random draws behind jitter, toxicity and slicing (default: the time)')
    .action(async (options: { listen: string; seed?: string }) => {
      let host: string;
      let port: number;
      try {
        ({ host, port } = splitHostPort(options.listen));
      } catch (error) {
        throw new UsageError(`--listen: ${(error as Error).message}`);
      }
      if (host === '') throw new UsageError('--listen needs a host, e.g. 127.0.0.1:8474');
      const seed = options.seed === undefined ? undefined : Number(options.seed);
      if (seed !== undefined && !Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer, got "${options.seed}"`);
      let server;
      try {
        server = await startToxiproxyServer({ host, port, ...(seed === undefined ? {} : { seed }) });
      } catch (error) {
        throw new UsageError(`cannot listen on ${options.listen}: ${(error as Error).message}`);
      }
      io.out(`toxiproxy API (Toxiproxy ${TOXIPROXY_VERSION} compatible) on ${server.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      io.err('toxiproxy stopped; every proxy and connection closed\n');
    });
}
