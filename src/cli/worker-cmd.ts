import { resolve } from 'node:path';

import { AddressRoutes } from '../client/routes.js';
import type { Command } from 'commander';

import { createLogger, type Logger } from '../coordinator/logger.js';
import { attemptDirsMaxDefault, attemptRetentionMsDefault } from '../worker/attempt-files.js';
import { outboxSyncDelayMsDefault, outboxSyncDelayMsMax } from '../worker/limits.js';
import { detectCapabilities, LabelError, parseLabels } from '../worker/capabilities.js';
import { chaosSeedFromTime, WorkerChaosHooks } from '../worker/chaos-hooks.js';
import { WorkerAgent, type ExecutorKind } from '../worker/agent.js';
import { startWorkerHttp, type WorkerHttp } from '../worker/http.js';
import { WorkDirError } from '../worker/identity.js';
import { TokenFileError, tokenFromFlagOrEnv } from '../security/auth-token.js';
import { workerHttpAuth, type WorkerHttpAuth } from '../security/auth-worker.js';
import { AuthFileError } from '../security/auth-file.js';
import { ExitError, UsageError } from './errors.js';
import { endpointListFlag, integerFlag, listenFlag, nonNegativeIntFlag, quoted } from './flags.js';
import { enforceListenPolicy, loadTls, tlsFilesOf, withTlsOptions, type TlsFlagValues } from './tls-flags.js';
import { reloadTlsLogged, type ReloadableTls } from '../security/tls.js';
import type { CliIo } from './io.js';

/** Exit code when the worker refuses to start (work dir in use or unreadable). */
export const workerExitRefused = 3;

/** A refusal to start goes to stderr, like every error; the worker prints no data (its log is NDJSON on stdout). */
export function registerWorkerCommand(program: Command, _io: CliIo): void {
  const worker = program
    .command('worker')
    .description('run a worker: register with the coordinators, take tasks, run them, report results')
    .requiredOption('--coordinators <list>', 'coordinator gRPC addresses, host:port,… (any of them; the worker finds the leader)')
    .option('--labels <list>', 'labels, key=value,… (e.g. region=eu-west-1,browser=chromium); os, arch and node are detected', '')
    .option('--slots <n>', 'tasks run at once', '1')
    .option('--work-dir <dir>', 'where the worker keeps its id, outbox, logs and setup markers', '.testudo-worker')
    .option('--http <host:port>', 'serve /livez, /status, /metrics and /logs/<attempt> (and /chaos with --chaos-hooks) here (port 0 picks one)')
    .option('--name <name>', 'a display name (default: the worker id)')
    .option('--cluster-id <id>', "serve only this cluster's leader: a coordinator of another cluster is refused (default: any)")
    .option('--checkout-root <dir>', "the checkout tasks run in (default: the run's source directory, for local clusters and shared filesystems)")
    .option('--tools <list>', 'extra executables to look for on PATH and advertise, a,b,…', '')
    .option('--executor <kind>', 'process (default) or noop (completes tasks at once without running them; scheduler benchmarks only)', 'process')
    .option('--kill-grace-ms <ms>', 'time between SIGTERM and SIGKILL of a timed-out task', '5000')
    .option('--outbox-sync-ms <ms>', `a finished result the coordinators have not confirmed this long after it was kept is synced to disk (fdatasync); 0: synced before it is sent (at most ${outboxSyncDelayMsMax})`, String(outboxSyncDelayMsDefault))
    .option('--attempt-dirs-max <n>', "finished attempts whose files (output.log, junit.xml) are kept in the work dir; older ones are removed", String(attemptDirsMaxDefault))
    .option('--attempt-retention-ms <ms>', "a finished attempt's files are removed this long after it ended (default: 7 days, the coordinators' default run retention)", String(attemptRetentionMsDefault))
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', process.env['LOG_LEVEL'] ?? 'info')
    .option('--route <list>', 'dial another address when a coordinator address is meant, from=via,… (e.g. through a fault proxy)', '')
    .option(
      '--chaos-hooks',
      'chaos runs only: serve /chaos on --http to inject faults into tasks (spawn errors, crashes, timeouts, CPU throttling); off by default, and every rate starts at 0',
    )
    .option('--chaos-seed <n>', "seed of the chaos hooks' random draws, 0..4294967295 (default: from the time; logged)")
    .option('--token-file <file>', 'the worker token to present (env TESTUDO_TOKEN_FILE); needed when the coordinators have an auth file')
    .option('--auth-file <file>', "the tokens --http accepts, by role: the coordinators' auth file (env TESTUDO_AUTH_FILE; reloaded on SIGHUP); without it --http checks no caller")
    .option('--exit-with-parent', 'stop when the parent process goes away (used by `testudo up`)')
    .option('--insecure', 'allow --http on a non-loopback address without TLS and a token (loudly); see docs/security.md');
  withTlsOptions(worker, 'this worker (and its --http port, which is then HTTPS)')
    .action(async (options: Record<string, string | boolean | undefined>) => {
      const coordinators = endpointListFlag('--coordinators', String(options['coordinators']));
      let routes: AddressRoutes;
      try {
        routes = AddressRoutes.parse(String(options['route'] ?? ''));
      } catch (error) {
        throw new UsageError(`--route: ${(error as Error).message}`);
      }
      const slots = integerFlag('--slots', String(options['slots']), 1, 1024);
      if (typeof options['name'] === 'string' && (options['name'].length === 0 || options['name'].length > 256)) throw new UsageError('--name must be 1..256 characters');
      const clusterId = options['clusterId'];
      if (typeof clusterId === 'string' && !/^[A-Za-z0-9._-]{1,64}$/.test(clusterId)) throw new UsageError(`--cluster-id must be 1-64 letters, digits, ".", "_" or "-", got ${quoted(clusterId)}`);
      const executor = String(options['executor']) as ExecutorKind;
      if (executor !== 'process' && executor !== 'noop') throw new UsageError(`--executor must be process or noop, got ${quoted(executor)}`);
      const killGraceMs = nonNegativeIntFlag('--kill-grace-ms', String(options['killGraceMs']));
      const outboxSyncMs = integerFlag('--outbox-sync-ms', String(options['outboxSyncMs']), 0, outboxSyncDelayMsMax);
      const attemptDirsMax = nonNegativeIntFlag('--attempt-dirs-max', String(options['attemptDirsMax']));
      const attemptRetentionMs = nonNegativeIntFlag('--attempt-retention-ms', String(options['attemptRetentionMs']));
      let capabilities;
      try {
        const tools = String(options['tools']).split(',').map((s) => s.trim()).filter((s) => s !== '');
        capabilities = detectCapabilities({ labels: parseLabels(String(options['labels'])), tools });
      } catch (error) {
        if (error instanceof LabelError) throw new UsageError(`--labels: ${error.message}`);
        throw error;
      }
      const token = workerToken(options['tokenFile']);
      const workDir = resolve(String(options['workDir']));
      const logger = createLogger({ nodeId: 'worker', level: String(options['logLevel']) as 'info' });
      const tls = workerTls(options, logger);
      const chaos = chaosHooksFrom(options, logger);
      const httpAuth = workerHttpAuthOf(options['authFile'], token !== null && typeof options['http'] === 'string', logger);
      let agent: WorkerAgent | null = null;
      let http: WorkerHttp | null = null;
      if (typeof options['http'] === 'string') {
        const listen = listenFlag('--http', options['http'], true);
        checkHttpListen(listen.host, tls, httpAuth !== null, options, logger);
        http = await startWorkerHttp(listen.host, listen.port, workDir, () => agent, chaos, tls?.hasIdentity === true ? tls : null, httpAuth ?? { auth: null });
      }
      try {
        agent = await WorkerAgent.start({
          coordinators,
          routes,
          ...(tls === null ? {} : { credentials: tls.channelCredentials() }),
          workDir,
          capabilities,
          slots,
          executor,
          killGraceMs,
          outboxSyncMs,
          attemptDirsMax,
          attemptRetentionMs,
          logger,
          ...(typeof options['name'] === 'string' ? { name: options['name'] } : {}),
          ...(typeof clusterId === 'string' ? { clusterId } : {}),
          ...(typeof options['checkoutRoot'] === 'string' ? { checkoutRoot: resolve(options['checkoutRoot']) } : {}),
          ...(http === null ? {} : { httpAddress: http.address }),
          ...(chaos === null ? {} : { chaos }),
          ...(token === null ? {} : { token }),
        });
      } catch (error) {
        await http?.close();
        if (error instanceof WorkDirError) {
          process.stderr.write(`testudo worker: refusing to start: ${error.message}\n`);
          throw new ExitError(workerExitRefused);
        }
        throw error;
      }
      logger.info({ event: 'worker-started', workerId: agent.workerId, http: http?.address ?? null, slots, labels: capabilities.labels, tls: tls !== null }, 'worker started');
      if (tls !== null || httpAuth !== null) {
        process.on('SIGHUP', () => {
          if (tls !== null) reloadTlsLogged(tls, logger);
          httpAuth?.reload();
        });
      }
      const reason = await new Promise<string>((done) => {
        process.once('SIGTERM', () => done('SIGTERM'));
        process.once('SIGINT', () => done('SIGINT'));
        // A parent that died while this worker was starting closed the channel before anyone listened.
        if (options['exitWithParent'] === true) {
          if (process.connected) process.once('disconnect', () => done('parent went away'));
          else done('parent went away');
        }
      });
      logger.info({ reason }, 'worker stopping');
      // Stopped task groups would not see the cancel's SIGTERM.
      chaos?.stop();
      await agent.stop();
      await http?.close();
      // The IPC channel to a parent (`testudo up`) would keep the process alive.
      if (process.connected) process.disconnect();
      setTimeout(() => process.exit(), 200).unref();
    });
}

/** The worker's TLS material (--tls-ca, --tls-cert, --tls-key or TESTUDO_TLS_*), or null for plaintext. */
function workerTls(options: Record<string, string | boolean | undefined>, logger: Logger): ReloadableTls | null {
  const files = tlsFilesOf(options as TlsFlagValues);
  if (files === null) return null;
  const tls = loadTls(files);
  for (const warning of tls.material.warnings) logger.warn({ event: 'tls-warning' }, warning);
  return tls;
}

/** Safe defaults for --http: a non-loopback address needs TLS (this worker's certificate) and tokens checked (--auth-file), or --insecure. */
function checkHttpListen(host: string, tls: ReloadableTls | null, tokens: boolean, options: Record<string, string | boolean | undefined>, logger: Logger): void {
  enforceListenPolicy(
    {
      role: 'worker',
      addresses: [{ setting: '--http', host }],
      tls: tls?.hasIdentity === true,
      tokens,
      insecure: options['insecure'] === true,
    },
    (line) => {
      logger.warn({ event: 'insecure' }, line);
      process.stderr.write(`${line}\n`);
    },
  );
}

/** --auth-file (or TESTUDO_AUTH_FILE) for the --http port, or null; a bad file is a usage error (exit 2). */
function workerHttpAuthOf(flag: string | boolean | undefined, presentsToken: boolean, logger: Logger): WorkerHttpAuth | null {
  const env = process.env['TESTUDO_AUTH_FILE'];
  const path = typeof flag === 'string' ? flag : env === undefined || env === '' ? null : env;
  if (path === null) {
    if (presentsToken) logger.warn({ event: 'http-open' }, '--token-file without --auth-file: the --http port checks no caller (give it the coordinators\' auth file)');
    return null;
  }
  try {
    return workerHttpAuth(path, logger);
  } catch (error) {
    if (error instanceof AuthFileError) throw new UsageError(error.message);
    throw error;
  }
}

/** The token of --token-file or TESTUDO_TOKEN_FILE, or null; a bad file is a usage error (exit 2). */
function workerToken(flag: string | boolean | undefined): string | null {
  try {
    return tokenFromFlagOrEnv(typeof flag === 'string' ? flag : undefined);
  } catch (error) {
    if (error instanceof TokenFileError) throw new UsageError(error.message);
    throw error;
  }
}

/** The chaos hooks for `--chaos-hooks` (null without it); `--chaos-seed` seeds their draws. */
function chaosHooksFrom(options: Record<string, string | boolean | undefined>, logger: Logger): WorkerChaosHooks | null {
  const seedText = options['chaosSeed'];
  if (options['chaosHooks'] !== true) {
    if (seedText !== undefined) logger.warn('--chaos-seed without --chaos-hooks does nothing');
    return null;
  }
  let seed = chaosSeedFromTime();
  if (typeof seedText === 'string') {
    seed = /^\d{1,10}$/.test(seedText) ? Number(seedText) : -1;
    if (seed < 0 || seed > 0xffff_ffff) throw new UsageError(`--chaos-seed must be an integer from 0 to 4294967295, got "${seedText}"`);
  }
  if (typeof options['http'] !== 'string') logger.warn('--chaos-hooks without --http: nothing can set the fault rates');
  logger.warn({ event: 'chaos-hooks', seed }, 'chaos hooks are on (chaos runs only): /chaos can inject faults into tasks');
  return new WorkerChaosHooks({ seed, logger });
}
