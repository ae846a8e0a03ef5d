import { createHash } from 'node:crypto';
import { AddressRoutes } from '../client/routes.js';
import { isIPv4, isIPv6 } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import { LOG_LEVELS, isLogLevel } from './logger.js';
import { checkClientAuthNeedsTls, resolveTlsFiles, type CoordinatorTls } from '../security/tls-config.js';
import type { LogLevel } from './logger.js';
import {
  CONFIG_FIELDS,
  ConfigError,
  Sources,
  baseDir,
  configPathFrom,
  describe,
  envName,
  flagName,
  missing,
  readConfigFile,
  readEnv,
  readFlags,
  type ConfigField,
  type Raw,
} from './config-sources.js';

export { CONFIG_FIELDS, ConfigError, envName, flagName };
export type { ConfigField };

/**
 * A coordinator's configuration, merged from three sources, highest first:
 * command-line flags, environment (TESTUDO_*), a YAML file (--config).
 */

export interface HostPort {
  /** A hostname, an IPv4 address or an IPv6 address without brackets. */
  readonly host: string;
  readonly port: number;
}

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
  /** Take a snapshot every this many applied entries. */
  readonly snapshotEntries: number;
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
  snapshotEntries: 10_000,
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

function parseRoute(raw: Raw): AddressRoutes {
  try {
    if (typeof raw.value === 'string') return AddressRoutes.parse(raw.value);
    if (raw.value !== null && typeof raw.value === 'object' && !Array.isArray(raw.value)) return AddressRoutes.from(raw.value as Record<string, string>);
  } catch (error) {
    throw new ConfigError({ source: describe(raw.origin), field: 'route', expected: 'from=via,… with host:port on both sides', problem: (error as Error).message });
  }
  throw new ConfigError({ source: describe(raw.origin), field: 'route', expected: 'from=via,… (or a YAML map) with host:port on both sides', got: raw.value });
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

const BOOLEAN_WORDS: ReadonlyMap<string, boolean> = new Map([['true', true], ['false', false], ['1', true], ['0', false], ['yes', true], ['no', false], ['on', true], ['off', false]]);

/** A YAML boolean, a flag given without a value, or true/false, 1/0, yes/no, on/off (any case). */
function parseBoolean(raw: Raw, field: ConfigField): boolean {
  if (typeof raw.value === 'boolean') return raw.value;
  const value = typeof raw.value === 'string' ? BOOLEAN_WORDS.get(raw.value.trim().toLowerCase()) : undefined;
  if (value === undefined) throw invalid(raw, field, 'true or false', raw.value);
  return value;
}

function parseWebhookUrl(raw: Raw): string {
  const text = typeof raw.value === 'string' ? raw.value.trim() : '';
  let url: URL | null = null;
  try {
    url = new URL(text);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new ConfigError({ source: describe(raw.origin), field: 'alertWebhookUrl', expected: 'an http(s) URL', got: raw.value });
  }
  return url.toString();
}

/**
 * The default cluster id: the first 16 hex digits of a SHA-256 over the
 * founding members sorted by id, so every founding node derives the same one
 * and two clusters with other members or addresses differ.
 */
export function deriveClusterId(peers: ReadonlyMap<string, string>): string {
  if (peers.size === 0) throw new RangeError('deriveClusterId: no peers');
  const lines = [...peers].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, address]) => `${id}=${address}`);
  return createHash('sha256').update(`testudo-cluster-v1\n${lines.join('\n')}`).digest('hex').slice(0, 16);
}

/** Parses "host:port" or "[ipv6]:port"; throws a plain Error describing the problem. */
export function parseHostPort(text: string, options: { portZeroOk?: boolean } = {}): HostPort {
  const problem = hostPortProblem(text, options.portZeroOk ?? false);
  if (typeof problem === 'string') throw new Error(problem);
  return problem;
}

/** "host:port", with IPv6 hosts in brackets. */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

// ---------------------------------------------------------------------------
// Membership: id, listen, advertise, peers, join

interface Membership {
  readonly listen: HostPort;
  readonly advertise: string;
  readonly peers: ReadonlyMap<string, string>;
  readonly join: readonly string[];
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ID_EXPECTED = 'an id of 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit';

function parseId(raw: Raw): string {
  const id = typeof raw.value === 'string' ? raw.value.trim() : raw.value;
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw invalid(raw, 'id', ID_EXPECTED);
  return id;
}

function resolveMembership(sources: Sources, id: string, warnings: string[]): Membership {
  const peersRaw = sources.get('peers');
  const joinRaw = sources.get('join');
  if (peersRaw !== undefined && joinRaw !== undefined) {
    throw new ConfigError({
      source: `${describe(peersRaw.origin)} and ${describe(joinRaw.origin)}`,
      field: 'peers/join',
      expected: 'either peers (to found a cluster) or join (to join a running one)',
      problem: 'both peers and join are set: a founding node lists its peers, a joining node lists members to join through, never both',
    });
  }
  if (peersRaw === undefined && joinRaw === undefined) {
    throw new ConfigError({
      source: `${flagName('peers')}, ${flagName('join')}, ${envName('peers')}, ${envName('join')} and the config file`,
      field: 'peers/join',
      expected: 'peers (n1=host:port,…) or join (host:port,…)',
      problem: 'neither peers nor join is set: give --peers to found a cluster or --join to join a running one',
    });
  }
  const peers = peersRaw === undefined ? new Map<string, string>() : parsePeers(peersRaw);
  const ownPeerAddress = peers.get(id);
  if (peersRaw !== undefined && ownPeerAddress === undefined) {
    throw new ConfigError({
      source: describe(peersRaw.origin),
      field: 'peers',
      expected: `an entry for this node's id ${JSON.stringify(id)}`,
      problem: `id ${JSON.stringify(id)} (${sources.describe('id')}) is not in peers [${[...peers.keys()].join(', ')}]; a node that joins a running cluster uses join instead`,
    });
  }
  const { listen, advertise, advertiseSource } = resolveAddresses(sources, ownPeerAddress);
  if (peersRaw !== undefined && ownPeerAddress !== advertise) {
    throw new ConfigError({
      source: `${describe(peersRaw.origin)} and ${advertiseSource}`,
      field: 'peers',
      expected: "this node's peers entry to equal its advertise address",
      problem: `inconsistent peer list: peers has ${id}=${ownPeerAddress} but this node advertises ${advertise}`,
    });
  }
  const join = joinRaw === undefined ? [] : parseJoin(joinRaw, advertise);
  if (peers.size > 0 && peers.size % 2 === 0) {
    warnings.push(`${peers.size} founding peers: an even-sized cluster tolerates no more failures than one with ${peers.size - 1} members`);
  }
  return { listen, advertise, peers, join };
}

/** listen defaults to the node's own peers entry; advertise defaults to listen. */
function resolveAddresses(sources: Sources, ownPeerAddress: string | undefined): { listen: HostPort; advertise: string; advertiseSource: string } {
  const listenRaw = sources.get('listen');
  const advertiseRaw = sources.get('advertise');
  let listen: HostPort;
  if (listenRaw !== undefined) listen = parseAddress(listenRaw, 'listen', true);
  else if (advertiseRaw !== undefined) {
    listen = parseAddress(advertiseRaw, 'advertise', false);
    sources.derive('listen', 'derived from advertise');
  } else if (ownPeerAddress !== undefined) {
    listen = parseHostPort(ownPeerAddress);
    sources.derive('listen', "derived from this node's peers entry");
  } else throw missing('listen', 'the host:port to serve gRPC on');

  if (advertiseRaw !== undefined) {
    const advertise = parseAddress(advertiseRaw, 'advertise', false);
    if (isUnspecified(advertise.host)) throw invalid(advertiseRaw, 'advertise', 'a host:port other nodes can dial, not a wildcard address');
    return { listen, advertise: formatHostPort(advertise), advertiseSource: describe(advertiseRaw.origin) };
  }
  const source = listenRaw === undefined ? sources.describe('peers') : describe(listenRaw.origin);
  if (isUnspecified(listen.host)) {
    throw new ConfigError({
      source,
      field: 'advertise',
      expected: 'a host:port other nodes can dial',
      problem: `listen is the wildcard address ${formatHostPort(listen)}: set advertise to the address other nodes dial`,
    });
  }
  if (listen.port === 0) {
    throw new ConfigError({ source, field: 'advertise', expected: 'a fixed port', problem: 'listen port 0 cannot be advertised: set a fixed listen port or advertise' });
  }
  sources.derive('advertise', 'derived from listen');
  return { listen, advertise: formatHostPort(listen), advertiseSource: source };
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || (isIPv6(host) && /^[0:]+$/.test(host));
}

function parsePeers(raw: Raw): Map<string, string> {
  const entries = peerEntries(raw);
  if (entries.length === 0) throw invalid(raw, 'peers', 'at least one id=host:port entry');
  const peers = new Map<string, string>();
  const idsByAddress = new Map<string, string>();
  for (const [id, addressText] of entries) {
    if (!ID_PATTERN.test(id)) throw invalid(raw, 'peers', `peer ids to be ${ID_EXPECTED}`, id);
    const problem = hostPortProblem(addressText, false);
    if (typeof problem === 'string') throw invalid(raw, 'peers', `host:port for peer ${id}`, addressText, problem);
    const address = formatHostPort(problem);
    if (peers.has(id)) throw invalid(raw, 'peers', 'each id once', undefined, `duplicate peer id ${JSON.stringify(id)}`);
    const other = idsByAddress.get(address);
    if (other !== undefined) throw invalid(raw, 'peers', 'each address once', undefined, `duplicate peer address ${address} (ids ${other} and ${id})`);
    peers.set(id, address);
    idsByAddress.set(address, id);
  }
  return peers;
}

/** "n1=a:1,n2=b:2", a list of "id=host:port", or (YAML) a mapping id → host:port. */
function peerEntries(raw: Raw): [string, string][] {
  const value = raw.value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    return Object.entries(value).map(([id, address]) => {
      if (typeof address !== 'string') throw invalid(raw, 'peers', `a host:port string for peer ${id}`, address);
      return [id, address.trim()];
    });
  }
  const items = listItems(raw, 'peers', 'id=host:port[,id=host:port…]');
  return items.map((item) => {
    const eq = item.indexOf('=');
    if (eq <= 0) throw invalid(raw, 'peers', 'entries of the form id=host:port, separated by commas', item);
    return [item.slice(0, eq).trim(), item.slice(eq + 1).trim()];
  });
}

function parseJoin(raw: Raw, advertise: string): string[] {
  const join: string[] = [];
  for (const item of listItems(raw, 'join', 'host:port[,host:port…]')) {
    const problem = hostPortProblem(item, false);
    if (typeof problem === 'string') throw invalid(raw, 'join', 'host:port addresses of running members', item, problem);
    const address = formatHostPort(problem);
    if (join.includes(address)) throw invalid(raw, 'join', 'each address once', undefined, `duplicate join address ${address}`);
    if (address === advertise) throw invalid(raw, 'join', 'addresses of other, running members', undefined, `join lists this node's own address ${address}`);
    join.push(address);
  }
  if (join.length === 0) throw invalid(raw, 'join', 'at least one host:port');
  return join;
}

/** A comma-separated string or a list of strings; empty items are errors, not skipped. */
function listItems(raw: Raw, field: ConfigField, expected: string): string[] {
  const value = raw.value;
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? (value as unknown[]) : undefined;
  if (items === undefined) throw invalid(raw, field, expected, value);
  return items.map((item) => {
    if (typeof item !== 'string' || item.trim() === '') throw invalid(raw, field, `${expected} with no empty entries`, value);
    return item.trim();
  });
}

function parseAddress(raw: Raw, field: ConfigField, portZeroOk: boolean): HostPort {
  if (typeof raw.value !== 'string') throw invalid(raw, field, 'host:port', raw.value);
  const problem = hostPortProblem(raw.value.trim(), portZeroOk);
  if (typeof problem === 'string') throw invalid(raw, field, 'host:port', raw.value, problem);
  return problem;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The parsed address, or a sentence saying what is wrong with it. */
function hostPortProblem(text: string, portZeroOk: boolean): HostPort | string {
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? '';
    if (!isIPv6(host)) return `${JSON.stringify(host)} in brackets is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return 'no port (expected host:port)';
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return 'an IPv6 address needs brackets: [::1]:7001';
    if (host === '') return 'no host (expected host:port)';
    if (!isIPv4(host) && !HOSTNAME.test(host)) return `${JSON.stringify(host)} is not a hostname or IP address`;
  }
  const minPort = portZeroOk ? 0 : 1;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < minPort || Number(portText) > 65535) {
    return `port ${JSON.stringify(portText)} is not an integer in ${minPort}..65535`;
  }
  return { host: host.toLowerCase(), port: Number(portText) };
}

// ---------------------------------------------------------------------------
// Everything else

function resolveTiming(sources: Sources, warnings: string[]) {
  const int = (field: keyof typeof CONFIG_DEFAULTS & keyof typeof CONFIG_LIMITS): number => {
    const raw = sources.get(field);
    return raw === undefined ? CONFIG_DEFAULTS[field] : parseInteger(raw, field, CONFIG_LIMITS[field]);
  };
  const tickMs = int('tickMs');
  const electionTicks = int('electionTicks');
  const heartbeatTicks = int('heartbeatTicks');
  const snapshotEntries = int('snapshotEntries');
  const snapshotCatchUpEntries = int('snapshotCatchUpEntries');
  const readyLagEntriesMax = int('readyLagEntriesMax');
  const workerTtlMs = int('workerTtlMs');
  const workerGraceMs = int('workerGraceMs');
  const runRetentionMs = int('runRetentionMs');
  const unschedulableTimeoutMs = int('unschedulableTimeoutMs');
  const workerResetTimeoutMs = int('workerResetTimeoutMs');
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
  return { tickMs, electionTicks, heartbeatTicks, snapshotEntries, snapshotCatchUpEntries, readyLagEntriesMax, messageBytesMax, workerTtlMs, workerGraceMs, runRetentionMs, unschedulableTimeoutMs, workerResetTimeoutMs };
}

function parseInteger(raw: Raw, field: ConfigField, limits: { min: number; max: number }): number {
  const expected = `an integer in ${limits.min}..${limits.max}`;
  const value = typeof raw.value === 'string' && /^\s*-?\d+\s*$/.test(raw.value) ? Number(raw.value) : raw.value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < limits.min || value > limits.max) {
    throw invalid(raw, field, expected, raw.value);
  }
  return value;
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** An integer number of bytes, or one with a binary unit: 16MiB, 512KiB. */
function parseBytes(raw: Raw, field: ConfigField, limits: { min: number; max: number }): number {
  const expected = `bytes in ${limits.min}..${limits.max} (an integer, or with KiB, MiB or GiB)`;
  let value: unknown = raw.value;
  if (typeof value === 'string') {
    const match = /^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$/.exec(value);
    const unit = BYTE_UNITS[match?.[2] ?? ''];
    value = match === null || unit === undefined ? undefined : Number(match[1]) * unit;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < limits.min || value > limits.max) {
    throw invalid(raw, field, expected, raw.value);
  }
  return value;
}

function parseHttp(raw: Raw): HostPort | null {
  if (raw.value === false || raw.value === 'off') return null;
  return parseAddress(raw, 'http', true);
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

function parseClusterId(raw: Raw): string {
  const value = typeof raw.value === 'string' ? raw.value.trim() : raw.value;
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(value)) {
    throw invalid(raw, 'clusterId', '1-64 letters, digits, ".", "_" or "-"', raw.value);
  }
  return value;
}

function parseLogLevelValue(raw: Raw): LogLevel {
  const value = typeof raw.value === 'string' ? raw.value.trim() : '';
  if (!isLogLevel(value)) throw invalid(raw, 'logLevel', `one of ${LOG_LEVELS.join(', ')}`, raw.value);
  return value;
}

function parseDataDir(raw: Raw, configPath: string | undefined): string {
  if (typeof raw.value !== 'string' || raw.value.trim() === '') throw invalid(raw, 'dataDir', 'a data directory path', raw.value);
  return resolvePath(baseDir(raw.origin, configPath), raw.value.trim());
}

/** A file path setting (relative to the config file when set there), or null when unset. */
function optionalPath(raw: Raw | undefined, field: 'authFile' | 'tokenFile', configPath: string | undefined): string | null {
  if (raw === undefined) return null;
  if (typeof raw.value !== 'string' || raw.value.trim() === '') throw invalid(raw, field, 'a file path', raw.value);
  return resolvePath(baseDir(raw.origin, configPath), raw.value.trim());
}

function invalid(raw: Raw, field: string, expected: string, got?: unknown, problem?: string): ConfigError {
  const details: { source: string; field: string; expected: string; problem?: string; got?: unknown } = {
    source: describe(raw.origin),
    field,
    expected,
  };
  if (problem !== undefined) details.problem = `expected ${expected}: ${problem}`;
  if (got !== undefined) details.got = got;
  return new ConfigError(details);
}
