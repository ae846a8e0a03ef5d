import type { Command } from 'commander';
import { ConfigError, loadCoordinatorConfig, type CoordinatorConfig } from '../coordinator/config.js';
import { DataDirError, startCoordinator } from '../coordinator/coordinator.js';
import { createLogger } from '../coordinator/logger.js';
import { CorruptionError, DataDirLockedError, DurableStateRolledBackError, ForeignDataDirError } from '../raft/index.js';
import { AuthFileError } from '../security/auth-file.js';
import { TokenFileError } from '../security/auth-token.js';
import { ExitError, UsageError } from './errors.js';
import { TlsMaterialError } from '../security/tls.js';
import { configFieldSet } from '../security/tls-policy.js';
import { enforceListenPolicy } from './tls-flags.js';
import type { CliIo } from './io.js';

/** Exit code of a coordinator that refused to start on its data directory. */
export const exitRefused = 3;

export function registerCoordinatorCommand(program: Command, io: CliIo): void {
  program
    .command('coordinator')
    .description('run one coordinator of a Testudo cluster (flags > TESTUDO_* environment > --config YAML)')
    .option('--config <file>', 'YAML file with any of the settings below (camelCase keys)')
    .option('--id <id>', 'this node, e.g. n1')
    .option('--listen <host:port>', 'gRPC address to bind (peers, clients, workers)')
    .option('--advertise <host:port>', 'address the others dial (default: --listen)')
    .option('--peers <list>', 'founding members: n1=host:port,n2=host:port,…')
    .option('--join <list>', 'join an existing cluster through these members (host:port,…); then add it with `testudo cluster add-member`')
    .option('--cluster-id <id>', 'cluster identity (default: derived from --peers; a joiner learns it)')
    .option('--data-dir <dir>', 'where this node keeps its Raft log and snapshots')
    .option('--http <host:port>', 'serve /metrics, /livez, /readyz and /status here')
    .option('--tick-ms <ms>', 'Raft tick length (default 10)')
    .option('--election-ticks <n>', 'ticks without a leader before an election (default 16, randomized up to 2x)')
    .option('--heartbeat-ticks <n>', 'ticks between leader heartbeats (default 2)')
    .option('--read-mode <mode>', 'safe|lease: confirm linearizable reads with a heartbeat round, or at once under a leader lease (slower failover; docs/raft.md) (default safe)')
    .option('--snapshot-entries <n>', 'snapshot every n applied entries (default 10000)')
    .option('--snapshot-bytes <n>', 'or once the entries applied since the last snapshot hold n bytes of data (default 67108864: 64 MiB)')
    .option('--snapshot-catch-up-entries <n>', 'entries kept after a snapshot for slow followers (default 5000)')
    .option('--ready-lag-entries-max <n>', 'a follower is not ready while it trails the leader\'s commit index by more entries (default 1000)')
    .option('--message-bytes-max <n>', 'largest gRPC message between nodes (default 16 MiB)')
    .option('--worker-ttl-ms <ms>', 'declare a silent worker lost after this long (default 10000)')
    .option('--worker-grace-ms <ms>', 'a new leader waits this long for workers before declaring any lost (default 15000)')
    .option('--run-retention-ms <ms>', 'keep finished runs in the replicated state this long (default 7 days)')
    .option('--worker-reset-timeout-ms <ms>', 'quarantine a worker asked to reset that has not reported done after this long (default 600000)')
    .option('--alert-webhook-url <url>', 'POST alerts (quarantine, give-up, failed reset) here as Slack-compatible JSON')
    .option('--unschedulable-timeout-ms <ms>', 'end a queued task failed-infra when no registered worker meets its requirements for this long (default 600000)')
    .option('--route <list>', 'dial another address when a member address is meant, from=via,… (local only; chaos runs route links through fault proxies)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL)')
    .option('--tls-cert <file>', 'PEM certificate this node presents on every port and link (with --tls-key and --tls-ca; reloaded on SIGHUP)')
    .option('--tls-key <file>', 'PEM private key of --tls-cert')
    .option('--tls-ca <file>', 'PEM CA bundle that peers\', workers\' and clients\' certificates chain to')
    .option('--tls-client-auth', 'mutual TLS: require client certificates from the CA on the gRPC port (recommended)')
    .option('--insecure', 'allow listening on a non-loopback address without TLS and tokens (loudly); see docs/security.md')
    .option('--chaos-hooks', 'chaos runs only: serve /chaos on --http to delay each synced Raft write (fsyncDelayMs); off by default, delay 0 until set')
    .option('--auth-file <file>', 'the tokens this node accepts, by role (YAML; docs/security.md); without it the cluster is open')
    .option('--token-file <file>', "this node's peer token (its `peer` entry in the auth file), presented to the other coordinators")
    .option('--exit-with-parent', 'stop when the parent process goes away (used by `testudo up`)')
    .action(async (flags: Record<string, unknown>) => {
      let config;
      try {
        const { exitWithParent: _ignored, ...configFlags } = flags;
        config = loadCoordinatorConfig({ flags: configFlags, env: process.env });
      } catch (error) {
        if (error instanceof ConfigError) throw new UsageError(error.message);
        throw error;
      }
      const logger = createLogger({ nodeId: config.id, level: config.logLevel });
      for (const warning of config.warnings) logger.warn(warning);
      checkListen(config, (line) => {
        logger.warn({ event: 'insecure' }, line);
        process.stderr.write(`${line}\n`);
      });
      let running;
      try {
        running = await startCoordinator(config, logger);
      } catch (error) {
        if (error instanceof TlsMaterialError) throw new UsageError(`TLS: ${error.message}`);
        if (error instanceof AuthFileError || error instanceof TokenFileError) {
          logger.fatal({ err: error }, 'refusing to start');
          throw new UsageError(error.message);
        }
        if (refusal(error)) {
          logger.fatal({ err: error }, 'refusing to start');
          io.err(`testudo coordinator ${config.id}: refusing to start: ${(error as Error).message}\n${recoveryHint(error, config)}`);
          throw new ExitError(exitRefused);
        }
        throw error;
      }
      if (config.tls !== null || config.authFile !== null) {
        process.on('SIGHUP', () => {
          running.reloadTls();
          running.reloadAuth();
        });
      }
      const reason = await new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
        // A parent that died while this node was starting closed the channel before anyone listened.
        if (flags['exitWithParent'] === true) {
          if (process.connected) process.once('disconnect', () => resolve('parent went away'));
          else resolve('parent went away');
        }
        void running.fatal.then(() => resolve('fatal storage error'));
      });
      logger.info({ reason }, 'stopping');
      await running.stop({ transferLeadership: reason !== 'fatal storage error' });
      // Open handles (gRPC channels winding down) must not keep a stopped node alive.
      setTimeout(() => process.exit(), 200).unref();
      if (reason === 'fatal storage error') throw new ExitError(1);
    });
}

/** Safe defaults: nothing but loopback without TLS and tokens, unless --insecure (exit 2 before anything binds). */
function checkListen(config: CoordinatorConfig, warn: (line: string) => void): void {
  enforceListenPolicy(
    {
      role: 'coordinator',
      addresses: [{ setting: '--listen', host: config.listen.host }, ...(config.http === null ? [] : [{ setting: '--http', host: config.http.host }])],
      tls: config.tls !== null,
      tokens: configFieldSet(config.sources, 'authFile'),
      insecure: config.insecure,
    },
    warn,
  );
}

function refusal(error: unknown): boolean {
  return (
    error instanceof DataDirError ||
    error instanceof CorruptionError ||
    error instanceof DurableStateRolledBackError ||
    error instanceof ForeignDataDirError ||
    error instanceof DataDirLockedError
  );
}

/** What to do next when the node's durable state cannot be trusted (damaged, or older than it acknowledged). */
function recoveryHint(error: unknown, config: CoordinatorConfig): string {
  if (!(error instanceof DurableStateRolledBackError || error instanceof CorruptionError)) return '';
  return (
    `This node may have acknowledged votes or entries that its data no longer holds; it must not start on it. To recover, either\n` +
    `  - stop it and restore ${config.dataDir} from the copy that holds this state (the same node's, as recent as its last run), or\n` +
    `  - rejoin it as a new member: \`testudo cluster remove-member --id ${config.id}\`, move ${config.dataDir} aside, start it with an empty\n` +
    `    --data-dir and --join <member addresses>, then \`testudo cluster add-member --id ${config.id} --address ${config.advertise}\`.\n` +
    `See docs/operations.md, "Damaged or lost data". \`testudo raft inspect ${config.dataDir}/raft --node-id ${config.id}\` shows what the directory holds without changing it.\n`
  );
}
