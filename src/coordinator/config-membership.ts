import { createHash } from 'node:crypto';
import { ConfigError, describe, envName, flagName, missing, type Sources, type Raw } from './config-sources.js';
import { formatHostPort, hostPortProblem, invalid, isUnspecified, listItems, parseAddress, parseHostPort, type HostPort } from './config-values.js';

// A coordinator's membership settings: its id, where it listens and what it
// advertises, the founding peers or the members it joins through.

export interface Membership {
  readonly listen: HostPort;
  readonly advertise: string;
  readonly peers: ReadonlyMap<string, string>;
  readonly join: readonly string[];
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ID_EXPECTED = 'an id of 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit';

export function parseId(raw: Raw): string {
  const id = typeof raw.value === 'string' ? raw.value.trim() : raw.value;
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) throw invalid(raw, 'id', ID_EXPECTED);
  return id;
}

export function resolveMembership(sources: Sources, id: string, warnings: string[]): Membership {
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
