import { AddressRoutes } from '../client/routes.js';
import { checkClientAuthNeedsTls, resolveTlsFiles, type CoordinatorTls } from '../security/tls-config.js';
import { CONFIG_FIELDS, ConfigError, Sources, configPathFrom, envName, flagName, readConfigFile, readEnv, readFlags, type ConfigField, type Raw } from './config-sources.js';
import { deriveClusterId, parseId, resolveMembership } from './config-membership.js';
import {
  formatHostPort,
  isUnspecified,
  optionalPath,
  parseBoolean,
  parseBytes,
  parseClusterId,
  parseDataDir,
  parseHttp,
  parseInteger,
  parseLogLevelValue,
  parseReadMode,
  parseRoute,
  parseWebhookUrl,
  type HostPort,
} from './config-values.js';
import { RAFT_DEFAULTS, type ReadMode } from '../raft/index.js';
import type { LogLevel } from './logger.js';

export { CONFIG_FIELDS, ConfigError, envName, flagName };
export { deriveClusterId } from './config-membership.js';
export { formatHostPort, parseHostPort } from './config-values.js';
export type { ConfigField };
export type { HostPort } from './config-values.js';

/**
 * A coordinator's configuration, merged from three sources, highest first:
 * command-line flags, environment (TESTUDO_*), a YAML file (--config).
 */
export interface CoordinatorConfig {
  /** Raft id of this node. */
  readonly id: string;
  /** Where the gRPC server binds (peers, workers, clients). */
  readonly listen: HostPort;
  /** host:port other nodes dial to reach this one; IPv6 in brackets. */
  readonly advertise: string;
  /** Founding members, id → host:port; empty for a node that joins. */
  readonly peers: ReadonlyMap<string, string>;
  /** Addresses of existing members a joining node asks to add it; empty for a founding node. */
  readonly join: readonly string[];
  /** Absolute path of the node's LevelDB directory. */
  readonly dataDir: string;
  /** Where /metrics, /livez, /readyz and /status are served; null for none. */
  readonly http: HostPort | null;
  /**
   * Guards against nodes of two clusters talking to each other. Defaults to a
   * hash of the founding peers; '' for a joining node that was given none
   * (it adopts the cluster's).
   */
  readonly clusterId: string;
  readonly tickMs: number;
  /** Ticks without a leader before a follower campaigns (randomized in [n, 2n) by the core). */
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /**
   * How the Raft leader confirms linearizable reads: 'safe' (a heartbeat
   * round per batch) or 'lease' (at once under a lease; slower failover).
   * See docs/raft.md, "Lease-based reads".
   */
  readonly readMode: ReadMode;
  /** Take a snapshot every this many applied entries. */
  readonly snapshotEntries: number;
  /** Or once the entries applied since the last snapshot hold this many bytes of data. */
  readonly snapshotBytes: number;
  /** Entries kept behind a snapshot so slow followers catch up without one. */
  readonly snapshotCatchUpEntries: number;
  /**
   * A follower is not ready (/readyz 503) while its applied index trails the
   * leader's commit index, as it last heard it, by more than this.
   */
  readonly readyLagEntriesMax: number;
  /** Largest gRPC message between nodes; the raft core's per-append byte budget must stay below it. */
  readonly messageBytesMax: number;
  /** A worker not heard from for this long is declared lost and its attempts requeued. */
  readonly workerTtlMs: number;
  /** A new leader waits this long for workers to reconnect before declaring any lost. */
  readonly workerGraceMs: number;
  /** Finished runs leave the replicated state this long after they end (their reports stay archived). */
  readonly runRetentionMs: number;
  /** A queued task no registered worker can run ends failed-infra after this long. */
  readonly unschedulableTimeoutMs: number;
  /** A worker asked to reset (recovery level 3) that has not reported done after this long is quarantined. */
  readonly workerResetTimeoutMs: number;
  /** Alerts (quarantine, give-up, failed reset) are POSTed here as Slack-compatible JSON; '' for none. */
  readonly alertWebhookUrl: string;
  /**
   * Where this node dials when a member's address is meant (peers, forwarded
   * calls); local, never replicated. Chaos runs send each link through its own
   * fault proxy this way.
   */
  readonly route: AddressRoutes;
  readonly logLevel: LogLevel;
  /** Serve /chaos (fault injection: a delay before each synced Raft write); chaos runs only. */
  readonly chaosHooks: boolean;
  /** TLS on the gRPC and HTTP ports and on every link this node dials; null for plaintext. */
  readonly tls: CoordinatorTls | null;
  /** Serve on a non-loopback address without TLS and tokens (docs/security.md, "Safe defaults"). */
  readonly insecure: boolean;
  /** The tokens this node accepts, by role (docs/security.md); null: an open cluster, nothing is checked. */
  readonly authFile: string | null;
  /** The token this node presents to its peers (its `peer` entry); null: none. */
  readonly tokenFile: string | null;
  /** Things that are allowed but probably unintended; log them at startup. */
  readonly warnings: readonly string[];
  /** Where each value came from ('flag --tick-ms', 'env TESTUDO_ID', 'file c.yaml:3', 'default'). */
  readonly sources: Readonly<Record<ConfigField, string>>;
}

export const CONFIG_DEFAULTS = {
  tickMs: 10,
  electionTicks: 16,
  heartbeatTicks: 2,
  readMode: 'safe',
  snapshotEntries: 10_000,
  snapshotBytes: 64 * 1024 * 1024,
  snapshotCatchUpEntries: 5_000,
  readyLagEntriesMax: 1_000,
  messageBytesMax: 16 * 1024 * 1024,
  workerTtlMs: 10_000,
  workerGraceMs: 15_000,
  runRetentionMs: 7 * 24 * 3600 * 1000,
  unschedulableTimeoutMs: 10 * 60 * 1000,
  workerResetTimeoutMs: 10 * 60 * 1000,
  logLevel: 'info',
  chaosHooks: false,
  tlsClientAuth: false,
  insecure: false,
} as const satisfies Partial<Record<ConfigField, unknown>>;

/** Bounds on numeric settings, inclusive. */
export const CONFIG_LIMITS = {
  tickMs: { min: 1, max: 1000 },
  electionTicks: { min: 2, max: 10_000 },
  heartbeatTicks: { min: 1, max: 1000 },
  snapshotEntries: { min: 1, max: 100_000_000 },
  snapshotBytes: { min: 1024, max: 2 ** 40 },
  snapshotCatchUpEntries: { min: 0, max: 100_000_000 },
  readyLagEntriesMax: { min: 0, max: 100_000_000 },
  messageBytesMax: { min: 4 * 1024, max: 1024 * 1024 * 1024 },
  workerTtlMs: { min: 500, max: 3_600_000 },
  workerGraceMs: { min: 0, max: 3_600_000 },
  runRetentionMs: { min: 1000, max: 365 * 24 * 3600 * 1000 },
  unschedulableTimeoutMs: { min: 100, max: 7 * 24 * 3600 * 1000 },
  workerResetTimeoutMs: { min: 1000, max: 24 * 3600 * 1000 },
  /** electionTicks × tickMs: longer than this and a dead leader goes unnoticed for too long. */
  electionTimeoutMsMax: 60_000,
} as const;

/**
 * Loads, merges and validates the configuration. Per field the first source
 * that sets it wins: `flags` (camelCase keys, as commander gives them;
 * undefined means unset), then `env` (an empty variable is unset; LOG_LEVEL is
 * read after TESTUDO_LOG_LEVEL), then the YAML file at `configPath` (else
 * flags.config, else TESTUDO_CONFIG). Relative data dirs resolve against the
 * file's directory for the file, the working directory otherwise.
 * Throws `ConfigError` naming the source, the field and what was expected.
 */
export function loadCoordinatorConfig(input: { flags: Record<string, unknown>; env: NodeJS.ProcessEnv; configPath?: string }): CoordinatorConfig {
  const warnings: string[] = [];
  const configPath = input.configPath ?? configPathFrom(input.flags, input.env);
  const file = configPath === undefined ? new Map<ConfigField, Raw>() : readConfigFile(configPath);
  const sources = new Sources(readFlags(input.flags), readEnv(input.env, warnings), file);

  const id = parseId(sources.required('id', 'a node id'));
  const membership = resolveMembership(sources, id, warnings);
  const timing = resolveTiming(sources, warnings);
  const dataDir = parseDataDir(sources.required('dataDir', 'a data directory path'), configPath);
  const httpRaw = sources.get('http');
  const http = httpRaw === undefined ? null : parseHttp(httpRaw);
  if (http !== null) checkHttpApartFromListen(http, membership.listen, sources);
  const clusterIdRaw = sources.get('clusterId');
  const clusterId = clusterIdRaw !== undefined ? parseClusterId(clusterIdRaw) : membership.peers.size > 0 ? deriveClusterId(membership.peers) : '';
  if (clusterIdRaw === undefined && clusterId !== '') sources.derive('clusterId', 'derived from peers');
  const logLevelRaw = sources.get('logLevel');
  const logLevel = logLevelRaw === undefined ? CONFIG_DEFAULTS.logLevel : parseLogLevelValue(logLevelRaw);
  const chaosHooks = resolveChaosHooks(sources, warnings);
  const webhookRaw = sources.get('alertWebhookUrl');
  const alertWebhookUrl = webhookRaw === undefined ? '' : parseWebhookUrl(webhookRaw);
  const routeRaw = sources.get('route');
  const route = routeRaw === undefined ? AddressRoutes.none : parseRoute(routeRaw);
  const tls = resolveTls(sources, configPath);
  const insecureRaw = sources.get('insecure');
  const insecure = insecureRaw === undefined ? CONFIG_DEFAULTS.insecure : parseBoolean(insecureRaw, 'insecure');
  const authFile = optionalPath(sources.get('authFile'), 'authFile', configPath);
  const tokenFile = optionalPath(sources.get('tokenFile'), 'tokenFile', configPath);

  const config: CoordinatorConfig = {
    id,
    ...membership,
    dataDir,
    http,
    clusterId,
    ...timing,
    alertWebhookUrl,
    route,
    logLevel,
    chaosHooks,
    tls,
    insecure,
    authFile,
    tokenFile,
    warnings,
    sources: sources.describeAll(),
  };
  return Object.freeze(config);
}

function resolveTls(sources: Sources, configPath: string | undefined): CoordinatorTls | null {
  const files = resolveTlsFiles(sources, configPath);
  const clientAuthRaw = sources.get('tlsClientAuth');
  const clientAuth = clientAuthRaw === undefined ? CONFIG_DEFAULTS.tlsClientAuth : parseBoolean(clientAuthRaw, 'tlsClientAuth');
  checkClientAuthNeedsTls(clientAuth, files !== null, sources);
  return files === null ? null : { files, clientAuth };
}

function resolveChaosHooks(sources: Sources, warnings: string[]): boolean {
  const raw = sources.get('chaosHooks');
  const on = raw === undefined ? CONFIG_DEFAULTS.chaosHooks : parseBoolean(raw, 'chaosHooks');
  if (on) warnings.push(`chaos hooks are on (${sources.describe('chaosHooks')}): /chaos can slow this node's synced writes; for chaos runs only`);
  return on;
}

function checkHttpApartFromListen(http: HostPort, listen: HostPort, sources: Sources): void {
  const sameHost = http.host === listen.host || isUnspecified(http.host) || isUnspecified(listen.host);
  if (http.port !== 0 && http.port === listen.port && sameHost) {
    throw new ConfigError({
      source: `${sources.describe('http')} and ${sources.describe('listen')}`,
      field: 'http',
      expected: 'an address other than listen',
      problem: `http ${formatHostPort(http)} collides with listen ${formatHostPort(listen)}`,
    });
  }
}

/** Lease reads need a lease longer than the heartbeat interval: electionTicks − leaseSafetyTicks (3) > heartbeatTicks. */
function checkLeaseTiming(readMode: ReadMode, electionTicks: number, heartbeatTicks: number, sources: Sources): void {
  if (readMode !== 'lease') return;
  const lease = electionTicks - RAFT_DEFAULTS.leaseSafetyTicks;
  if (lease > heartbeatTicks) return;
  throw new ConfigError({
    source: `${sources.describe('readMode')} and ${sources.describe('electionTicks')}`,
    field: 'readMode',
    expected: `electionTicks above heartbeatTicks + ${RAFT_DEFAULTS.leaseSafetyTicks} for lease reads`,
    problem: `a lease lasts electionTicks ${electionTicks} − ${RAFT_DEFAULTS.leaseSafetyTicks} ticks, not longer than one heartbeat interval (${heartbeatTicks} ticks); raise --election-ticks or use --read-mode safe`,
  });
}

function resolveTiming(sources: Sources, warnings: string[]) {
  const int = (field: keyof typeof CONFIG_DEFAULTS & keyof typeof CONFIG_LIMITS): number => {
    const raw = sources.get(field);
    return raw === undefined ? CONFIG_DEFAULTS[field] : parseInteger(raw, field, CONFIG_LIMITS[field]);
  };
  const tickMs = int('tickMs');
  const electionTicks = int('electionTicks');
  const heartbeatTicks = int('heartbeatTicks');
  const snapshotEntries = int('snapshotEntries');
  const snapshotBytes = int('snapshotBytes');
  const snapshotCatchUpEntries = int('snapshotCatchUpEntries');
  const readyLagEntriesMax = int('readyLagEntriesMax');
  const workerTtlMs = int('workerTtlMs');
  const workerGraceMs = int('workerGraceMs');
  const runRetentionMs = int('runRetentionMs');
  const unschedulableTimeoutMs = int('unschedulableTimeoutMs');
  const workerResetTimeoutMs = int('workerResetTimeoutMs');
  const readModeRaw = sources.get('readMode');
  const readMode = readModeRaw === undefined ? CONFIG_DEFAULTS.readMode : parseReadMode(readModeRaw);
  const messageBytesRaw = sources.get('messageBytesMax');
  const messageBytesMax = messageBytesRaw === undefined ? CONFIG_DEFAULTS.messageBytesMax : parseBytes(messageBytesRaw, 'messageBytesMax', CONFIG_LIMITS.messageBytesMax);

  const timingSources = `${sources.describe('electionTicks')} and ${sources.describe('heartbeatTicks')}`;
  if (!(electionTicks > heartbeatTicks)) {
    throw new ConfigError({
      source: timingSources,
      field: 'electionTicks',
      expected: 'electionTicks greater than heartbeatTicks',
      problem: `electionTicks ${electionTicks} must be greater than heartbeatTicks ${heartbeatTicks}, or followers campaign between heartbeats`,
    });
  }
  const electionTimeoutMs = electionTicks * tickMs;
  if (electionTimeoutMs > CONFIG_LIMITS.electionTimeoutMsMax) {
    throw new ConfigError({
      source: `${sources.describe('electionTicks')} and ${sources.describe('tickMs')}`,
      field: 'electionTicks',
      expected: `electionTicks × tickMs at most ${CONFIG_LIMITS.electionTimeoutMsMax} ms`,
      problem: `election timeout ${electionTicks} × ${tickMs} ms = ${electionTimeoutMs} ms exceeds ${CONFIG_LIMITS.electionTimeoutMsMax} ms`,
    });
  }
  if (electionTicks < 5 * heartbeatTicks) {
    warnings.push(`electionTicks ${electionTicks} is less than 5 × heartbeatTicks ${heartbeatTicks}: one late heartbeat may start an election`);
  }
  checkLeaseTiming(readMode, electionTicks, heartbeatTicks, sources);
  return { tickMs, electionTicks, heartbeatTicks, readMode, snapshotEntries, snapshotBytes, snapshotCatchUpEntries, readyLagEntriesMax, messageBytesMax, workerTtlMs, workerGraceMs, runRetentionMs, unschedulableTimeoutMs, workerResetTimeoutMs };
}
