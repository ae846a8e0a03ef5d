import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { dirname, resolve as resolvePath } from 'node:path';
import { LineCounter, isMap, isScalar, parseDocument } from 'yaml';
import { LOG_LEVELS, isLogLevel } from './logger.js';
import type { LogLevel } from './logger.js';

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
  /** Largest gRPC message between nodes; the raft core's per-append byte budget must stay below it. */
  readonly messageBytesMax: number;
  readonly logLevel: LogLevel;
  /** Things that are allowed but probably unintended; log them at startup. */
  readonly warnings: readonly string[];
  /** Where each value came from ('flag --tick-ms', 'env TESTUDO_ID', 'file c.yaml:3', 'default'). */
  readonly sources: Readonly<Record<ConfigField, string>>;
}

export const CONFIG_FIELDS = [
  'id',
  'listen',
  'advertise',
  'peers',
  'join',
  'dataDir',
  'http',
  'clusterId',
  'tickMs',
  'electionTicks',
  'heartbeatTicks',
  'snapshotEntries',
  'snapshotCatchUpEntries',
  'messageBytesMax',
  'logLevel',
] as const;
export type ConfigField = (typeof CONFIG_FIELDS)[number];

export const CONFIG_DEFAULTS = {
  tickMs: 20,
  electionTicks: 10,
  heartbeatTicks: 1,
  snapshotEntries: 10_000,
  snapshotCatchUpEntries: 5_000,
  messageBytesMax: 16 * 1024 * 1024,
  logLevel: 'info',
} as const satisfies Partial<Record<ConfigField, unknown>>;

/** Bounds on numeric settings, inclusive. */
export const CONFIG_LIMITS = {
  tickMs: { min: 1, max: 1000 },
  electionTicks: { min: 2, max: 10_000 },
  heartbeatTicks: { min: 1, max: 1000 },
  snapshotEntries: { min: 1, max: 100_000_000 },
  snapshotCatchUpEntries: { min: 0, max: 100_000_000 },
  messageBytesMax: { min: 4 * 1024, max: 1024 * 1024 * 1024 },
  /** electionTicks × tickMs: longer than this and a dead leader goes unnoticed for too long. */
  electionTimeoutMsMax: 60_000,
} as const;

/** A configuration value is missing, malformed or contradicts another. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Where the value came from: 'flag --tick-ms', 'env TESTUDO_TICK_MS', 'file /etc/testudo.yaml:7', or several joined by ' and '. */
  readonly source: string;
  /** The setting, camelCase as in the YAML file ('tickMs'), or 'config' for the file itself. */
  readonly field: string;
  /** What a valid value looks like. */
  readonly expected: string;

  constructor(details: { source: string; field: string; expected: string; problem?: string; got?: unknown; cause?: unknown }) {
    const problem = details.problem ?? `expected ${details.expected}`;
    const got = 'got' in details ? `, got ${formatGot(details.got)}` : '';
    super(`${details.source}: ${details.field}: ${problem}${got}`, { cause: details.cause });
    this.source = details.source;
    this.field = details.field;
    this.expected = details.expected;
  }
}

/** The command-line flag for a field: tickMs → --tick-ms. */
export function flagName(field: ConfigField): string {
  return `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** The environment variable for a field: tickMs → TESTUDO_TICK_MS. */
export function envName(field: ConfigField): string {
  return `TESTUDO_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

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

  const config: CoordinatorConfig = {
    id,
    ...membership,
    dataDir,
    http,
    clusterId,
    ...timing,
    logLevel,
    warnings,
    sources: sources.describeAll(),
  };
  return Object.freeze(config);
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
// Sources

interface Origin {
  readonly kind: 'flag' | 'env' | 'file' | 'default';
  /** Flag or variable name, or the file path. */
  readonly name: string;
  readonly line?: number;
}

interface Raw {
  readonly value: unknown;
  readonly origin: Origin;
}

function describe(origin: Origin): string {
  switch (origin.kind) {
    case 'flag':
      return `flag ${origin.name}`;
    case 'env':
      return `env ${origin.name}`;
    case 'file':
      return `file ${origin.name}:${origin.line ?? 1}`;
    case 'default':
      return 'default';
  }
}

class Sources {
  private readonly layers: readonly ReadonlyMap<ConfigField, Raw>[];
  private readonly used = new Map<ConfigField, Origin>();
  private readonly derived = new Map<ConfigField, string>();

  constructor(...layers: ReadonlyMap<ConfigField, Raw>[]) {
    this.layers = layers;
  }

  /** The value from the highest source that sets `field`. */
  get(field: ConfigField): Raw | undefined {
    for (const layer of this.layers) {
      const raw = layer.get(field);
      if (raw !== undefined) {
        this.used.set(field, raw.origin);
        return raw;
      }
    }
    return undefined;
  }

  required(field: ConfigField, expected: string): Raw {
    const raw = this.get(field);
    if (raw === undefined) throw missing(field, expected);
    return raw;
  }

  /** Records that an unset `field` was derived from others, e.g. 'derived from peers'. */
  derive(field: ConfigField, how: string): void {
    if (!this.used.has(field)) this.derived.set(field, how);
  }

  /** Where `field` came from, for errors about a value that was defaulted or derived. */
  describe(field: ConfigField): string {
    const origin = this.used.get(field);
    return origin === undefined ? (this.derived.get(field) ?? 'default') : describe(origin);
  }

  describeAll(): Record<ConfigField, string> {
    return Object.fromEntries(CONFIG_FIELDS.map((field) => [field, this.describe(field)])) as Record<ConfigField, string>;
  }
}

function missing(field: ConfigField, expected: string): ConfigError {
  return new ConfigError({
    source: `${flagName(field)}, ${envName(field)} and the config file`,
    field,
    expected,
    problem: `missing: set ${flagName(field)}, ${envName(field)} or '${field}' in the config file to ${expected}`,
  });
}

function configPathFrom(flags: Record<string, unknown>, env: NodeJS.ProcessEnv): string | undefined {
  const fromFlag = flags['config'];
  if (typeof fromFlag === 'string' && fromFlag !== '') return fromFlag;
  if (fromFlag !== undefined && fromFlag !== null) {
    throw new ConfigError({ source: 'flag --config', field: 'config', expected: 'a YAML file path', got: fromFlag });
  }
  const fromEnv = env['TESTUDO_CONFIG'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

function readFlags(flags: Record<string, unknown>): Map<ConfigField, Raw> {
  const layer = new Map<ConfigField, Raw>();
  for (const [key, value] of Object.entries(flags)) {
    if (key === 'config') continue;
    if (!isConfigField(key)) {
      throw new ConfigError({ source: `flag ${key}`, field: key, expected: `one of ${CONFIG_FIELDS.join(', ')}`, problem: `unknown flag ${JSON.stringify(key)}` });
    }
    if (value === undefined || value === null) continue;
    layer.set(key, { value, origin: { kind: 'flag', name: flagName(key) } });
  }
  return layer;
}

/** Kubernetes injects <SERVICE>_PORT… and <SERVICE>_SERVICE_… for a Service named "testudo"; those are not ours. */
const FOREIGN_ENV = /^TESTUDO_(PORT|SERVICE_)/;

function readEnv(env: NodeJS.ProcessEnv, warnings: string[]): Map<ConfigField, Raw> {
  const layer = new Map<ConfigField, Raw>();
  const known = new Set<string>(['TESTUDO_CONFIG']);
  for (const field of CONFIG_FIELDS) {
    const name = envName(field);
    known.add(name);
    const value = env[name];
    if (value !== undefined && value !== '') layer.set(field, { value, origin: { kind: 'env', name } });
  }
  const logLevel = env['LOG_LEVEL'];
  if (!layer.has('logLevel') && logLevel !== undefined && logLevel !== '') {
    layer.set('logLevel', { value: logLevel, origin: { kind: 'env', name: 'LOG_LEVEL' } });
  }
  for (const name of Object.keys(env).sort()) {
    if (name.startsWith('TESTUDO_') && !known.has(name) && !FOREIGN_ENV.test(name)) {
      warnings.push(`unrecognized environment variable ${name} (ignored)`);
    }
  }
  return layer;
}

function readConfigFile(path: string): Map<ConfigField, Raw> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError({ source: `file ${path}`, field: 'config', expected: 'a readable YAML file', problem: `cannot read config file (${code})`, cause: error });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const syntaxError = doc.errors[0];
  if (syntaxError !== undefined) {
    const line = syntaxError.linePos?.[0].line ?? 1;
    const firstLine = syntaxError.message.split('\n')[0] ?? syntaxError.message;
    throw new ConfigError({ source: `file ${path}:${line}`, field: 'config', expected: 'valid YAML', problem: `invalid YAML: ${firstLine}`, cause: syntaxError });
  }
  const layer = new Map<ConfigField, Raw>();
  const contents = doc.contents;
  if (contents === null) return layer;
  if (!isMap(contents)) {
    throw new ConfigError({ source: `file ${path}:1`, field: 'config', expected: 'a mapping of camelCase keys (id: n1, tickMs: 20, …)' });
  }
  let values: Record<string, unknown>;
  try {
    values = doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError({ source: `file ${path}`, field: 'config', expected: 'plain YAML', problem: `cannot read YAML: ${String(error)}`, cause: error });
  }
  for (const pair of contents.items) {
    const keyLine = isScalar(pair.key) && pair.key.range !== undefined ? lineCounter.linePos(pair.key.range[0]).line : 1;
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!isConfigField(key)) throw unknownKey(path, keyLine, key);
    const value = values[key];
    if (value === null || value === undefined) continue;
    layer.set(key, { value, origin: { kind: 'file', name: path, line: keyLine } });
  }
  return layer;
}

function unknownKey(path: string, line: number, key: string): ConfigError {
  const squash = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const near = CONFIG_FIELDS.find((field) => squash(field) === squash(key));
  return new ConfigError({
    source: `file ${path}:${line}`,
    field: key,
    expected: `one of ${CONFIG_FIELDS.join(', ')}`,
    problem: `unknown key ${JSON.stringify(key)}${near === undefined ? '' : ` (did you mean ${near}?)`}; expected one of ${CONFIG_FIELDS.join(', ')}`,
  });
}

function isConfigField(key: string): key is ConfigField {
  return (CONFIG_FIELDS as readonly string[]).includes(key);
}

function baseDir(origin: Origin, configPath: string | undefined): string {
  return origin.kind === 'file' && configPath !== undefined ? dirname(resolvePath(configPath)) : process.cwd();
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
  return { tickMs, electionTicks, heartbeatTicks, snapshotEntries, snapshotCatchUpEntries, messageBytesMax };
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

function formatGot(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
