import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_DEFAULTS, ConfigError, deriveClusterId, envName, flagName, loadCoordinatorConfig } from '../../src/coordinator/config.js';
import type { CoordinatorConfig } from '../../src/coordinator/config.js';

const PEERS = 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003';
const BASE = { id: 'n1', peers: PEERS, dataDir: '/var/lib/testudo/n1' };

const dir = mkdtempSync(joinPath(tmpdir(), 'testudo-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;

function yamlFile(text: string): string {
  const path = joinPath(dir, `c${fileCount++}.yaml`);
  writeFileSync(path, text);
  return path;
}

function load(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, configPath?: string): CoordinatorConfig {
  return loadCoordinatorConfig(configPath === undefined ? { flags, env } : { flags, env, configPath });
}

/** The ConfigError `fn` throws. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadCoordinatorConfig: merging', () => {
  it('fills defaults and derives listen, advertise and the cluster id from peers', () => {
    const config = load(BASE);
    expect(config).toMatchObject({
      id: 'n1',
      listen: { host: '127.0.0.1', port: 7001 },
      advertise: '127.0.0.1:7001',
      join: [],
      dataDir: '/var/lib/testudo/n1',
      http: null,
      tickMs: 10,
      electionTicks: 16,
      heartbeatTicks: 2,
      snapshotEntries: 10_000,
      snapshotBytes: 64 * 1024 * 1024,
      snapshotCatchUpEntries: 5_000,
      messageBytesMax: 16 * 1024 * 1024,
      logLevel: 'info',
      warnings: [],
    });
    expect([...config.peers]).toEqual([
      ['n1', '127.0.0.1:7001'],
      ['n2', '127.0.0.1:7002'],
      ['n3', '127.0.0.1:7003'],
    ]);
    expect(config.clusterId).toMatch(/^[0-9a-f]{16}$/);
    expect(config.sources).toMatchObject({ id: 'flag --id', listen: "derived from this node's peers entry", clusterId: 'derived from peers', tickMs: 'default' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(CONFIG_DEFAULTS.tickMs).toBe(10);
  });

  it('takes each field from flags over env over file', () => {
    const file = yamlFile(['id: n1', `peers: ${PEERS}`, 'dataDir: /from/file', 'tickMs: 30', 'electionTicks: 40', 'heartbeatTicks: 3', 'logLevel: warn'].join('\n'));
    const env = { TESTUDO_TICK_MS: '25', TESTUDO_ELECTION_TICKS: '30', TESTUDO_DATA_DIR: '/from/env' };
    const config = load({ tickMs: '21', dataDir: undefined }, env, file);
    expect(config.tickMs).toBe(21);
    expect(config.electionTicks).toBe(30);
    expect(config.heartbeatTicks).toBe(3);
    expect(config.dataDir).toBe('/from/env');
    expect(config.logLevel).toBe('warn');
    expect(config.sources).toMatchObject({ tickMs: 'flag --tick-ms', electionTicks: 'env TESTUDO_ELECTION_TICKS', heartbeatTicks: `file ${file}:6`, dataDir: 'env TESTUDO_DATA_DIR' });
  });

  it('reads everything from the environment', () => {
    const config = load(
      {},
      {
        TESTUDO_ID: 'n2',
        TESTUDO_PEERS: PEERS,
        TESTUDO_DATA_DIR: '/d',
        TESTUDO_HTTP: '127.0.0.1:9102',
        TESTUDO_HEARTBEAT_TICKS: '2',
        TESTUDO_SNAPSHOT_ENTRIES: '500',
        TESTUDO_SNAPSHOT_BYTES: '1048576',
        TESTUDO_SNAPSHOT_CATCH_UP_ENTRIES: '50',
        TESTUDO_MESSAGE_BYTES_MAX: '4MiB',
        TESTUDO_CLUSTER_ID: 'ci-cluster',
        LOG_LEVEL: 'debug',
      },
    );
    expect(config).toMatchObject({ id: 'n2', advertise: '127.0.0.1:7002', dataDir: '/d', http: { host: '127.0.0.1', port: 9102 } });
    expect(config).toMatchObject({ heartbeatTicks: 2, snapshotEntries: 500, snapshotBytes: 1_048_576, snapshotCatchUpEntries: 50, messageBytesMax: 4 * 1024 * 1024, clusterId: 'ci-cluster', logLevel: 'debug' });
    expect(load(BASE, { TESTUDO_LOG_LEVEL: 'error', LOG_LEVEL: 'debug' }).logLevel).toBe('error');
  });

  it('treats an empty environment variable as unset', () => {
    expect(load(BASE, { TESTUDO_JOIN: '', TESTUDO_TICK_MS: '' }).tickMs).toBe(10);
  });

  it('reads YAML lists and mappings, and resolves a relative dataDir against the file', () => {
    const file = yamlFile(['id: n3', 'peers:', '  n1: 127.0.0.1:7001', '  n2: 127.0.0.1:7002', '  n3: 127.0.0.1:7003', 'dataDir: data/n3', 'http: 127.0.0.1:0', 'messageBytesMax: 65536'].join('\n'));
    const config = load({}, {}, file);
    expect(config.peers.get('n3')).toBe('127.0.0.1:7003');
    expect(config.dataDir).toBe(joinPath(dir, 'data/n3'));
    expect(config.http).toEqual({ host: '127.0.0.1', port: 0 });
    expect(config.messageBytesMax).toBe(65536);
    expect(config.clusterId).toBe(load(BASE).clusterId);

    const joining = yamlFile(['id: n4', 'listen: 127.0.0.1:7004', 'join:', '  - 127.0.0.1:7001', '  - 127.0.0.1:7002', 'dataDir: /d'].join('\n'));
    expect(load({}, {}, joining).join).toEqual(['127.0.0.1:7001', '127.0.0.1:7002']);
  });

  it('finds the file through flags.config or TESTUDO_CONFIG', () => {
    const file = yamlFile(`id: n1\npeers: ${PEERS}\ndataDir: /d\ntickMs: 7\n`);
    expect(load({ config: file }).tickMs).toBe(7);
    expect(load({}, { TESTUDO_CONFIG: file }).tickMs).toBe(7);
    // An empty file sets nothing.
    expect(configError(() => load({}, {}, yamlFile(''))).field).toBe('id');
  });

  it('starts a joining node with no peers and no cluster id of its own', () => {
    const config = load({ id: 'n4', listen: '127.0.0.1:7004', join: '127.0.0.1:7001, 127.0.0.1:7002', dataDir: '/d' });
    expect(config.peers.size).toBe(0);
    expect(config.join).toEqual(['127.0.0.1:7001', '127.0.0.1:7002']);
    expect(config.clusterId).toBe('');
    expect(load({ id: 'n4', listen: '127.0.0.1:7004', join: ['127.0.0.1:7001'], dataDir: '/d' }).join).toEqual(['127.0.0.1:7001']);
  });

  it('separates listen from advertise and brackets IPv6', () => {
    const config = load({ id: 'n1', peers: 'n1=[::1]:7001,n2=[::1]:7002,n3=[::1]:7003', listen: '[::]:7001', advertise: '[::1]:7001', dataDir: '/d' });
    expect(config.listen).toEqual({ host: '::', port: 7001 });
    expect(config.advertise).toBe('[::1]:7001');
    const named = load({ id: 'n1', peers: 'n1=N1.Testudo.svc:7001', listen: '0.0.0.0:7001', advertise: 'n1.testudo.svc:7001', dataDir: '/d' });
    expect(named.advertise).toBe('n1.testudo.svc:7001');
  });

  it('turns http off explicitly', () => {
    expect(load({ ...BASE, http: 'off' }, { TESTUDO_HTTP: '127.0.0.1:9101' }).http).toBeNull();
  });

  it('derives the cluster id from the members, not their order', () => {
    const a = deriveClusterId(new Map([['n1', 'h:1'], ['n2', 'h:2']]));
    expect(deriveClusterId(new Map([['n2', 'h:2'], ['n1', 'h:1']]))).toBe(a);
    expect(deriveClusterId(new Map([['n1', 'h:1'], ['n2', 'h:3']]))).not.toBe(a);
    expect(load({ ...BASE, peers: 'n3=127.0.0.1:7003,n1=127.0.0.1:7001,n2=127.0.0.1:7002' }).clusterId).toBe(load(BASE).clusterId);
  });

  it('warns about unknown TESTUDO_ variables and even clusters, not about Kubernetes service variables', () => {
    const config = load(
      { ...BASE, peers: 'n1=127.0.0.1:7001,n2=127.0.0.1:7002' },
      { TESTUDO_TICKMS: '5', TESTUDO_PORT: 'tcp://10.0.0.1:7001', TESTUDO_SERVICE_HOST: '10.0.0.1', TESTUDO_PORT_7001_TCP: 'x' },
    );
    expect(config.warnings).toEqual([
      'unrecognized environment variable TESTUDO_TICKMS (ignored)',
      '2 founding peers: an even-sized cluster tolerates no more failures than one with 1 members',
    ]);
    expect(load({ ...BASE, electionTicks: 4 }).warnings).toEqual(['electionTicks 4 is less than 5 × heartbeatTicks 2: one late heartbeat may start an election']);
  });

  it('names flags and variables after the fields', () => {
    expect(flagName('snapshotCatchUpEntries')).toBe('--snapshot-catch-up-entries');
    expect(envName('snapshotCatchUpEntries')).toBe('TESTUDO_SNAPSHOT_CATCH_UP_ENTRIES');
    expect(envName('dataDir')).toBe('TESTUDO_DATA_DIR');
  });
});

describe('loadCoordinatorConfig: errors name the source, the field and what was expected', () => {
  it.each([
    ['no port', { ...BASE, listen: '127.0.0.1' }, 'flag --listen: listen: expected host:port: no port (expected host:port), got "127.0.0.1"'],
    ['port out of range', { ...BASE, listen: '127.0.0.1:70000' }, 'flag --listen: listen: expected host:port: port "70000" is not an integer in 0..65535'],
    ['bad host', { ...BASE, listen: 'bad_host!:7001' }, 'flag --listen: listen: expected host:port: "bad_host!" is not a hostname or IP address'],
    ['unbracketed IPv6', { ...BASE, advertise: '::1:7001' }, 'an IPv6 address needs brackets: [::1]:7001'],
    ['port 0 in peers', { ...BASE, peers: 'n1=127.0.0.1:0' }, 'flag --peers: peers: expected host:port for peer n1: port "0" is not an integer in 1..65535'],
    ['peer without =', { ...BASE, peers: 'n1=127.0.0.1:7001,127.0.0.1:7002' }, 'flag --peers: peers: expected entries of the form id=host:port, separated by commas, got "127.0.0.1:7002"'],
    ['empty peer entry', { ...BASE, peers: 'n1=127.0.0.1:7001,' }, 'flag --peers: peers: expected id=host:port[,id=host:port…] with no empty entries'],
    ['bad peer id', { ...BASE, peers: 'n1=127.0.0.1:7001,n 2=127.0.0.1:7002' }, 'flag --peers: peers: expected peer ids to be an id of 1-63'],
    ['duplicate peer id', { ...BASE, peers: 'n1=127.0.0.1:7001,n1=127.0.0.1:7002' }, 'flag --peers: peers: expected each id once: duplicate peer id "n1"'],
    ['duplicate peer address', { ...BASE, peers: 'n1=127.0.0.1:7001,n2=127.0.0.1:7001' }, 'duplicate peer address 127.0.0.1:7001 (ids n1 and n2)'],
    ['id not in peers', { ...BASE, id: 'n9' }, 'flag --peers: peers: id "n9" (flag --id) is not in peers [n1, n2, n3]; a node that joins a running cluster uses join instead'],
    ['inconsistent peer list', { ...BASE, advertise: '127.0.0.1:7009' }, 'flag --peers and flag --advertise: peers: inconsistent peer list: peers has n1=127.0.0.1:7001 but this node advertises 127.0.0.1:7009'],
    ['inconsistent through listen', { ...BASE, listen: 'localhost:7001' }, 'inconsistent peer list: peers has n1=127.0.0.1:7001 but this node advertises localhost:7001'],
    ['neither peers nor join', { id: 'n1', dataDir: '/d', listen: '127.0.0.1:7001' }, 'peers/join: neither peers nor join is set'],
    ['both peers and join', { ...BASE, join: '127.0.0.1:7002' }, 'flag --peers and flag --join: peers/join: both peers and join are set'],
    ['join to itself', { id: 'n4', listen: '127.0.0.1:7004', join: '127.0.0.1:7001,127.0.0.1:7004', dataDir: '/d' }, "join lists this node's own address 127.0.0.1:7004"],
    ['duplicate join', { id: 'n4', listen: '127.0.0.1:7004', join: '127.0.0.1:7001,127.0.0.1:7001', dataDir: '/d' }, 'duplicate join address 127.0.0.1:7001'],
    ['joining without listen', { id: 'n4', join: '127.0.0.1:7001', dataDir: '/d' }, "listen: missing: set --listen, TESTUDO_LISTEN or 'listen' in the config file"],
    ['wildcard without advertise', { id: 'n4', listen: '0.0.0.0:7004', join: '127.0.0.1:7001', dataDir: '/d' }, 'advertise: listen is the wildcard address 0.0.0.0:7004: set advertise'],
    ['wildcard advertise', { id: 'n4', listen: '0.0.0.0:7004', advertise: '0.0.0.0:7004', join: '127.0.0.1:7001', dataDir: '/d' }, 'flag --advertise: advertise: expected a host:port other nodes can dial'],
    ['missing id', { peers: PEERS, dataDir: '/d' }, "--id, TESTUDO_ID and the config file: id: missing: set --id, TESTUDO_ID or 'id' in the config file"],
    ['bad id', { ...BASE, id: '-n1' }, 'flag --id: id: expected an id of 1-63'],
    ['missing data dir', { id: 'n1', peers: PEERS }, "dataDir: missing: set --data-dir, TESTUDO_DATA_DIR or 'dataDir' in the config file"],
    ['empty data dir', { ...BASE, dataDir: ' ' }, 'flag --data-dir: dataDir: expected a data directory path, got " "'],
    ['tickMs 0', { ...BASE, tickMs: '0' }, 'flag --tick-ms: tickMs: expected an integer in 1..1000, got "0"'],
    ['tickMs 1001', { ...BASE, tickMs: 1001 }, 'flag --tick-ms: tickMs: expected an integer in 1..1000, got 1001'],
    ['tickMs not a number', { ...BASE, tickMs: '20ms' }, 'flag --tick-ms: tickMs: expected an integer in 1..1000, got "20ms"'],
    ['tickMs fractional', { ...BASE, tickMs: 2.5 }, 'flag --tick-ms: tickMs: expected an integer in 1..1000, got 2.5'],
    ['heartbeatTicks 0', { ...BASE, heartbeatTicks: '0' }, 'flag --heartbeat-ticks: heartbeatTicks: expected an integer in 1..1000'],
    ['election not above heartbeat', { ...BASE, electionTicks: '5', heartbeatTicks: '5' }, 'flag --election-ticks and flag --heartbeat-ticks: electionTicks: electionTicks 5 must be greater than heartbeatTicks 5'],
    ['election timeout too long', { ...BASE, tickMs: '1000', electionTicks: '61' }, 'election timeout 61 × 1000 ms = 61000 ms exceeds 60000 ms'],
    ['snapshotEntries 0', { ...BASE, snapshotEntries: 0 }, 'flag --snapshot-entries: snapshotEntries: expected an integer in 1..100000000, got 0'],
    ['snapshotBytes 1000', { ...BASE, snapshotBytes: 1000 }, 'flag --snapshot-bytes: snapshotBytes: expected an integer in 1024..1099511627776, got 1000'],
    ['snapshotCatchUpEntries negative', { ...BASE, snapshotCatchUpEntries: '-1' }, 'flag --snapshot-catch-up-entries: snapshotCatchUpEntries: expected an integer in 0..100000000'],
    ['messageBytesMax too small', { ...BASE, messageBytesMax: '1KiB' }, 'flag --message-bytes-max: messageBytesMax: expected bytes in 4096..1073741824'],
    ['messageBytesMax bad unit', { ...BASE, messageBytesMax: '16MB' }, 'got "16MB"'],
    ['bad log level', { ...BASE, logLevel: 'verbose' }, 'flag --log-level: logLevel: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
    ['bad cluster id', { ...BASE, clusterId: 'a b' }, 'flag --cluster-id: clusterId: expected 1-64 letters'],
    ['http on the gRPC port', { ...BASE, http: '127.0.0.1:7001' }, 'flag --http and derived from this node\'s peers entry: http: http 127.0.0.1:7001 collides with listen 127.0.0.1:7001'],
    ['unknown flag', { ...BASE, tickMS: '5' }, 'flag tickMS: tickMS: unknown flag "tickMS"'],
  ])('%s', (_name, flags, message) => {
    const error = configError(() => load(flags));
    expect(error.message).toContain(message);
    expect(error.name).toBe('ConfigError');
    expect(error.source).not.toBe('');
    expect(error.field).not.toBe('');
    expect(error.expected).not.toBe('');
  });

  it('names the environment variable', () => {
    const error = configError(() => load({ id: 'n1', dataDir: '/d' }, { TESTUDO_PEERS: 'n1=127.0.0.1:7001', TESTUDO_ELECTION_TICKS: 'ten' }));
    expect(error.message).toBe('env TESTUDO_ELECTION_TICKS: electionTicks: expected an integer in 2..10000, got "ten"');
    expect(error.source).toBe('env TESTUDO_ELECTION_TICKS');
    expect(error.field).toBe('electionTicks');
    expect(error.expected).toBe('an integer in 2..10000');
  });

  it('reads the read mode (safe by default), refusing others and a lease no longer than a heartbeat', () => {
    expect(load(BASE).readMode).toBe('safe');
    expect(load({ ...BASE, readMode: 'lease' }).readMode).toBe('lease');
    expect(load(BASE, { TESTUDO_READ_MODE: 'lease' }).sources.readMode).toBe('env TESTUDO_READ_MODE');
    expect(configError(() => load({ ...BASE, readMode: 'fast' })).message).toBe('flag --read-mode: readMode: expected safe or lease, got "fast"');
    const short = configError(() => load({ ...BASE, readMode: 'lease', electionTicks: '5', heartbeatTicks: '2' }));
    expect(short.field).toBe('readMode');
    expect(short.message).toContain('raise --election-ticks or use --read-mode safe');
  });

  it('names the file and line of a bad value', () => {
    const file = yamlFile(['# testudo', 'id: n1', `peers: ${PEERS}`, 'dataDir: /d', 'tickMs: 0'].join('\n'));
    const error = configError(() => load({}, {}, file));
    expect(error.message).toBe(`file ${file}:5: tickMs: expected an integer in 1..1000, got 0`);
  });

  it('refuses an unknown YAML key, naming key and line', () => {
    const file = yamlFile(['id: n1', `peers: ${PEERS}`, 'dataDir: /d', '', 'tick-ms: 5'].join('\n'));
    const error = configError(() => load({}, {}, file));
    expect(error.source).toBe(`file ${file}:5`);
    expect(error.field).toBe('tick-ms');
    expect(error.message).toContain(`file ${file}:5: tick-ms: unknown key "tick-ms" (did you mean tickMs?)`);
    const other = configError(() => load({}, {}, yamlFile('id: n1\nfrobnicate: true\n')));
    expect(other.message).toMatch(/:2: frobnicate: unknown key "frobnicate"; expected one of id, listen, /);
  });

  it('reports YAML syntax errors, duplicate keys, non-mappings and missing files with a line', () => {
    expect(configError(() => load({}, {}, yamlFile('id: n1\npeers: [unclosed\n'))).message).toMatch(/c\d+\.yaml:\d+: config: invalid YAML: /);
    expect(configError(() => load({}, {}, yamlFile('id: n1\nid: n2\n'))).message).toMatch(/c\d+\.yaml:2: config: invalid YAML: Map keys must be unique/);
    expect(configError(() => load({}, {}, yamlFile('- id\n'))).message).toMatch(/c\d+\.yaml:1: config: expected a mapping/);
    const missingFile = joinPath(dir, 'missing.yaml');
    expect(configError(() => load({}, {}, missingFile)).message).toBe(`file ${missingFile}: config: cannot read config file (ENOENT)`);
  });
});

describe('loadCoordinatorConfig: route', () => {
  it('reads routes from the flag, the environment or a YAML map, and none by default', () => {
    expect(load(BASE).route.size).toBe(0);
    expect(load({ ...BASE, route: '127.0.0.1:7002=127.0.0.1:17002' }).route.dial('127.0.0.1:7002')).toBe('127.0.0.1:17002');
    expect(load(BASE, { TESTUDO_ROUTE: '127.0.0.1:7003=127.0.0.1:17003' }).route.dial('127.0.0.1:7003')).toBe('127.0.0.1:17003');
    const file = yamlFile('route:\n  "127.0.0.1:7002": "127.0.0.1:27002"\n');
    expect(load(BASE, {}, file).route.dial('127.0.0.1:7002')).toBe('127.0.0.1:27002');
  });

  it('names the source and the problem of a bad route', () => {
    const error = configError(() => load({ ...BASE, route: '127.0.0.1:7002=nowhere' }));
    expect(error.message).toMatch(/flag --route: route: route 127.0.0.1:7002=nowhere: endpoint "nowhere" is not "host:port"/);
  });
});
