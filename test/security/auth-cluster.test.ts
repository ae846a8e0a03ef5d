// Tokens, roles, peer authentication, worker identity and the audit log on
// one real cluster: three coordinator processes with an auth file, a real
// worker with a join token, and plain grpc-js clients playing the attacker
// (no token, an unknown token, a token of the wrong role, a forged peer).

import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { testudoServices } from '../../src/common/testudo-proto.js';
import type { RunsClient } from '../../src/generated/testudo/v1/Runs.js';
import type { WorkerClient } from '../../src/generated/testudo/v1/Worker.js';
import type { WorkerHello as WireWorkerHello } from '../../src/generated/testudo/v1/WorkerHello.js';
import type { WorkerMessage as WireWorkerMessage } from '../../src/generated/testudo/v1/WorkerMessage.js';
import type { CoordinatorMessageReceived } from '../../src/model/session.js';
import { metadataClusterId, metadataFrom, peerPingPath, peerStreamPath } from '../../src/raft/transport/grpc-peer-service.js';
import { encodeBatchFrame, encodePingRequest } from '../../src/raft/transport/peer-codec.js';
import { parseAttemptId } from '../../src/model/index.js';
import { MessageType, message, type Message } from '../../src/raft/core/types.js';
import { newToken, tokenHash } from '../../src/security/auth-token.js';
import { clientFor, runTestudo, stableLeader, startCluster, waitFor } from '../integration/harness.js';
import { finishRun, sleepRun } from '../integration/runs-harness.js';

type Role = 'admin' | 'client' | 'readonly' | 'worker';
const names: Record<Role, string> = { admin: 'ops-admin', client: 'ci-client', readonly: 'grafana-ro', worker: 'fleet' };
const tokens: Record<Role | 'n1' | 'n2' | 'n3', string> = {
  admin: newToken(),
  client: newToken(),
  readonly: newToken(),
  worker: newToken(),
  n1: newToken(),
  n2: newToken(),
  n3: newToken(),
};
const unknownToken = newToken();
/** The role one step short of what a method needs. */
const lesser: Record<Role | 'peer', Role> = { admin: 'client', client: 'readonly', readonly: 'worker', worker: 'client', peer: 'admin' };

let cluster: LocalCluster;
let dir: string;
let secrets: string;
let cleanup: () => Promise<void>;
let admin: TestudoClient;
let leaderId = '';
let workerId = '';
const files: Record<string, string> = {};

const hex = (token: string): string => tokenHash(token).toString('hex');

async function writeSecrets(): Promise<void> {
  secrets = await mkdtemp(join(tmpdir(), 'testudo-auth-'));
  for (const [name, token] of Object.entries(tokens)) {
    files[name] = join(secrets, `${name}.token`);
    await writeFile(files[name], `${token}\n`, { mode: 0o600 });
  }
  const entry = (name: string, token: string): string => `  - { name: ${name}, sha256: ${hex(token)} }`;
  const text = [
    ...(['admin', 'client', 'readonly', 'worker'] as const).flatMap((role) => [`${role}:`, entry(names[role], tokens[role])]),
    'peer:',
    ...(['n1', 'n2', 'n3'] as const).map((n) => entry(n, tokens[n])),
  ].join('\n');
  files['auth'] = join(secrets, 'auth.yaml');
  await writeFile(files['auth'], `${text}\n`);
  await chmod(files['auth'], 0o644);
}

function metadata(token: string | null, extra: Record<string, string> = {}): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== null) md.set('authorization', `Bearer ${token}`);
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
}

const address = (id: string): string => cluster.member(id).grpcAddress;
const follower = (): string => [...cluster.members.keys()].find((id) => id !== leaderId)!;

/** Plain grpc-js clients of one coordinator: the generated Runs and Worker clients, and a bare one for calls named at run time. */
interface Clients {
  readonly Runs: RunsClient;
  readonly Worker: WorkerClient;
  readonly generic: grpc.Client;
}
const raw = new Map<string, Clients>();
function clientsOf(id: string): Clients {
  let c = raw.get(id);
  if (c === undefined) {
    const creds = grpc.credentials.createInsecure();
    const services = testudoServices();
    c = {
      Runs: new services.Runs(address(id), creds),
      Worker: new services.Worker(address(id), creds),
      generic: new grpc.Client(address(id), creds),
    };
    raw.set(id, c);
  }
  return c;
}

/** One unary call, named by service and method, encoded by its generated definition; resolves with the status code (0 on success). */
function unary(id: string, service: 'Kv' | 'Cluster' | 'Runs', method: string, request: object, md: grpc.Metadata): Promise<number> {
  const definitions: grpc.ServiceDefinition = testudoServices()[service].service;
  const definition = definitions[method];
  if (definition === undefined) throw new Error(`${service} has no method ${method}`);
  return new Promise((resolve) =>
    clientsOf(id).generic.makeUnaryRequest(definition.path, definition.requestSerialize, definition.responseDeserialize, request, md, { deadline: Date.now() + 10_000 }, (error) =>
      resolve(error === null || error === undefined ? 0 : error.code),
    ),
  );
}

/** WatchRun: the status the stream ends with. */
function watch(id: string, md: grpc.Metadata): Promise<number> {
  const client = clientsOf(id).Runs;
  return new Promise((resolve) => {
    const stream = client.WatchRun({ runId: 'r-none' }, md);
    stream.on('data', () => undefined);
    stream.on('status', (status: grpc.StatusObject) => resolve(status.code));
    stream.on('error', () => undefined);
  });
}

/** A worker session opened by hand, as the generated Worker client types it. */
type WorkerStream = grpc.ClientDuplexStream<WireWorkerMessage, CoordinatorMessageReceived>;

interface SessionOutcome {
  readonly code: number;
  readonly welcomed: boolean;
  readonly details: string;
}

/** A worker session by hand: hello, then `then` (given the stream) once welcomed; ends when the server ends it or after `holdMs`. */
function session(id: string, md: grpc.Metadata, hello: Partial<WireWorkerHello>, then?: (stream: WorkerStream) => void, holdMs = 1500): Promise<SessionOutcome> {
  const client = clientsOf(id).Worker;
  return new Promise((resolve) => {
    let welcomed = false;
    const stream = client.Session(md);
    const timer = setTimeout(() => stream.cancel(), holdMs);
    stream.on('data', (message: CoordinatorMessageReceived) => {
      if (message.welcome !== null && message.welcome !== undefined && !welcomed) {
        welcomed = true;
        then?.(stream);
      }
    });
    stream.on('error', () => undefined);
    stream.on('status', (status: grpc.StatusObject) => {
      clearTimeout(timer);
      resolve({ code: status.code, welcomed, details: status.details });
    });
    stream.write({
      hello: { workerId: 'w-0', name: 'raw', slots: 1, httpAddress: '', capabilities: JSON.stringify({ labels: {}, cpus: 1, memoryMb: 512, tools: [] }), running: [], pending: [], version: '1', ...hello },
    });
  });
}

const heartbeat = (from: string, to: string, term: number): Message => message({ type: MessageType.Heartbeat, from, to, term });

/** Opens RaftPeer.Stream on `target` as `claimedFrom`, sends `messages` and ends it: resolves with the status code. */
function peerStream(target: string, md: grpc.Metadata, messages: readonly Message[]): Promise<number> {
  const client = clientsOf(target).generic;
  return new Promise((resolve) => {
    const call = client.makeClientStreamRequest(
      peerStreamPath,
      (frame: Uint8Array) => Buffer.from(frame),
      (bytes: Buffer) => bytes,
      md,
      { deadline: Date.now() + 10_000 },
      (error) => resolve(error === null ? 0 : error.code),
    );
    call.write(encodeBatchFrame(messages));
    call.end();
  });
}

function peerPing(target: string, md: grpc.Metadata): Promise<number> {
  return new Promise((resolve) =>
    clientsOf(target).generic.makeUnaryRequest(
      peerPingPath,
      (from: string) => Buffer.from(encodePingRequest(from)),
      (bytes: Buffer) => bytes,
      'n2',
      md,
      { deadline: Date.now() + 10_000 },
      (error) => resolve(error === null ? 0 : error.code),
    ),
  );
}

async function httpGet(id: string, path: string, token: string | null, method = 'GET'): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${cluster.member(id).httpAddress}${path}`, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.text() };
}

function metricValue(text: string, name: string, labels: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

async function leaderMetrics(): Promise<string> {
  return (await httpGet(leaderId, '/metrics', tokens.readonly)).body;
}

async function termNow(): Promise<number> {
  const status = await admin.clusterStatus();
  return Math.max(...status.members.map((m) => m.term));
}

beforeAll(async () => {
  await writeSecrets();
  const started = await startCluster({
    basePort: 0,
    memberArgs: (id) => ['--auth-file', files['auth']!, '--token-file', files[id]!],
    workerGraceMs: 2000,
  });
  cluster = started.cluster;
  dir = started.dir;
  cleanup = started.cleanup;
  admin = clientFor(cluster, { token: tokens.admin });
  // The first start of three processes on a loaded machine can take longer than stableLeader's own wait.
  ({ leaderId } = await waitFor('a stable leader', () => stableLeader(admin, 3).catch(() => undefined), 90_000));
  await cluster.startWorker('w1', { slots: 1, killGraceMs: 500, extraArgs: ['--token-file', files['worker']!] });
  const worker = await waitFor('the worker to connect', async () => (await admin.listWorkers()).find((w) => w.name === 'w1' && w.connected), 60_000);
  workerId = worker.workerId;
}, 120_000);

afterAll(async () => {
  admin?.close();
  for (const c of raw.values()) for (const client of Object.values(c)) client.close();
  await cleanup?.();
  await rm(secrets, { recursive: true, force: true });
});

describe('an authenticated cluster', () => {
  const submission = deflateRawSync(Buffer.from(JSON.stringify(sleepRun('forged', 1, 0)), 'utf8'));
  /** Every unary RPC of Kv, Cluster and Runs with a request that would change something (or read) if let through. */
  const calls: [service: 'Kv' | 'Cluster' | 'Runs', method: string, request: object, needs: Role][] = [
    ['Kv', 'Put', { key: 'sec/forged', value: Buffer.from('x'), idempotencyKey: '' }, 'admin'],
    ['Kv', 'Delete', { key: 'sec/kept', idempotencyKey: '' }, 'admin'],
    ['Kv', 'Get', { key: 'sec/kept', stale: true }, 'readonly'],
    ['Kv', 'List', { prefix: 'sec/', stale: true }, 'readonly'],
    ['Cluster', 'Status', {}, 'readonly'],
    ['Cluster', 'MemberStatus', {}, 'readonly'],
    ['Cluster', 'TransferLeader', { to: 'n2' }, 'admin'],
    ['Cluster', 'AddMember', { id: 'n9', address: '127.0.0.1:1', learnerOnly: true }, 'admin'],
    ['Cluster', 'RemoveMember', { id: 'n3' }, 'admin'],
    ['Cluster', 'RepairMember', { id: 'n2' }, 'admin'],
    ['Runs', 'SubmitRun', { runId: 'r-forged', submission }, 'client'],
    ['Runs', 'GetRun', { runId: 'r-none', stale: true }, 'readonly'],
    ['Runs', 'ListRuns', { stale: true }, 'readonly'],
    ['Runs', 'CancelRun', { runId: 'r-none', reason: 'x' }, 'client'],
    ['Runs', 'ListWorkers', {}, 'readonly'],
    ['Runs', 'DrainWorker', { workerId: 'w-none', undrain: false }, 'admin'],
    ['Runs', 'ReleaseWorker', { workerId: 'w-none', reason: 'x' }, 'admin'],
    ['Runs', 'BreakerConfig', { set: '{"minimumCalls":99}' }, 'admin'],
  ];

  it('refuses every RPC without a token, with an unknown token and with a lesser role, and changes nothing', async () => {
    await admin.put('sec/kept', 'v');
    const breakerBefore = JSON.stringify(await admin.breakerConfig());
    const refusals: string[] = [];
    for (const [service, method, request, needs] of calls) {
      for (const id of [leaderId, follower()]) {
        refusals.push(`${id} ${service}.${method} none ${grpc.status[await unary(id, service, method, request, metadata(null))]}`);
        refusals.push(`${id} ${service}.${method} unknown ${grpc.status[await unary(id, service, method, request, metadata(unknownToken))]}`);
        refusals.push(`${id} ${service}.${method} ${lesser[needs]} ${grpc.status[await unary(id, service, method, request, metadata(tokens[lesser[needs]]))]}`);
      }
    }
    const expected = calls.flatMap(([service, method, , needs]) =>
      [leaderId, follower()].flatMap((id) => [
        `${id} ${service}.${method} none UNAUTHENTICATED`,
        `${id} ${service}.${method} unknown UNAUTHENTICATED`,
        `${id} ${service}.${method} ${lesser[needs]} PERMISSION_DENIED`,
      ]),
    );
    expect(refusals).toEqual(expected);
    for (const token of [null, unknownToken, tokens.readonly]) expect(await watch(follower(), metadata(token))).toBe(token === tokens.readonly ? grpc.status.PERMISSION_DENIED : grpc.status.UNAUTHENTICATED);
    // Nothing changed.
    expect((await admin.get('sec/forged')).found).toBe(false);
    expect((await admin.get('sec/kept')).found).toBe(true);
    const status = await admin.clusterStatus();
    expect(status.members.map((m) => m.id).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(status.leaderId).toBe(leaderId);
    expect((await admin.listRuns()).map((r) => r.runId)).not.toContain('r-forged');
    expect(JSON.stringify(await admin.breakerConfig())).toBe(breakerBefore);
  });

  it('lets each role do its part, on a follower too (forwarded with the caller, who is audited)', async () => {
    expect(await unary(follower(), 'Kv', 'Get', { key: 'sec/kept', stale: true }, metadata(tokens.readonly))).toBe(0);
    expect(await unary(follower(), 'Runs', 'ListRuns', { stale: false }, metadata(tokens.client))).toBe(0);
    expect(await unary(follower(), 'Kv', 'Put', { key: 'sec/by-follower', value: Buffer.from('y'), idempotencyKey: '' }, metadata(tokens.admin))).toBe(0);
    expect(await unary(follower(), 'Runs', 'BreakerConfig', { set: '' }, metadata(tokens.readonly))).toBe(0);
    expect((await admin.get('sec/by-follower')).found).toBe(true);
    const leaderLog = await readFile(cluster.member(leaderId).logPath, 'utf8');
    const audit = leaderLog.split('\n').filter((l) => l.includes('"audit":true')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.find((a) => a['action'] === 'Kv.Put' && a['who'] === names.admin && a['via'] === follower() && a['outcome'] === 'OK')).toMatchObject({ target: { key: 'sec/by-follower' } });
  });

  it('refuses a "forwarded" call from a caller that is not a peer', async () => {
    const forged = metadata(tokens.client, { 'testudo-forwarded': '1', 'testudo-forwarded-for': 'mallory', 'testudo-forwarded-role': 'admin' });
    expect(await unary(leaderId, 'Kv', 'Put', { key: 'sec/forwarded', value: Buffer.from('z'), idempotencyKey: '' }, forged)).toBe(grpc.status.PERMISSION_DENIED);
    // A caller cannot name itself either: the principal keys are the interceptor's own.
    const stamped = metadata(tokens.client, { 'testudo-principal': 'ops-admin', 'testudo-principal-role': 'admin' });
    expect(await unary(leaderId, 'Kv', 'Put', { key: 'sec/forwarded', value: Buffer.from('z'), idempotencyKey: '' }, stamped)).toBe(grpc.status.PERMISSION_DENIED);
    expect((await admin.get('sec/forwarded')).found).toBe(false);
  });

  it('drops forged peer traffic: no election from a heartbeat with term 999999999', async () => {
    const target = follower();
    const clusterId = (await admin.clusterStatus()).members.find((m) => m.id === target)!.clusterId;
    const claiming = (from: string, token: string | null): grpc.Metadata => metadata(token, { [metadataFrom]: from, [metadataClusterId]: clusterId });
    const termBefore = await termNow();
    const targetBefore = (await httpGet(target, '/metrics', tokens.readonly)).body;
    const forgedBeat = (from: string): Message[] => [heartbeat(from, target, 999_999_999)];
    expect(await peerStream(target, claiming(leaderId, null), forgedBeat(leaderId))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await peerStream(target, claiming(leaderId, unknownToken), forgedBeat(leaderId))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await peerStream(target, claiming(leaderId, tokens.admin), forgedBeat(leaderId))).toBe(grpc.status.PERMISSION_DENIED);
    // A third member's real peer credential, used under the leader's id; then under its own id, carrying a message that names the leader.
    const third = [...cluster.members.keys()].find((id) => id !== leaderId && id !== target) as 'n1' | 'n2' | 'n3';
    expect(await peerStream(target, claiming(leaderId, tokens[third]), forgedBeat(leaderId))).toBe(grpc.status.PERMISSION_DENIED);
    expect(await peerStream(target, claiming(third, tokens[third]), forgedBeat(leaderId))).toBe(grpc.status.OK);
    expect(await peerPing(target, claiming(leaderId, null))).toBe(grpc.status.UNAUTHENTICATED);
    expect(await peerPing(target, claiming(third, tokens[third]))).toBe(grpc.status.OK);
    // Nobody took the term: the leader and its term stand on every member.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const status = await admin.clusterStatus();
    expect(status.leaderId).toBe(leaderId);
    expect(Math.max(...status.members.map((m) => m.term))).toBe(termBefore);
    expect(termBefore).toBeLessThan(999_999_999);
    const after = (await httpGet(target, '/metrics', tokens.readonly)).body;
    const grown = (reason: string): number =>
      metricValue(after, 'testudo_raft_peer_messages_refused_total', `reason="${reason}"`) - metricValue(targetBefore, 'testudo_raft_peer_messages_refused_total', `reason="${reason}"`);
    expect({ unauthenticated: grown('unauthenticated'), wrongRole: grown('wrong-role'), identity: grown('identity'), forged: grown('forged-sender') }).toEqual({
      unauthenticated: 3,
      wrongRole: 1,
      identity: 1,
      forged: 1,
    });
  });

  it('guards the HTTP routes by the same table, leaving the probes open', async () => {
    expect((await httpGet(leaderId, '/livez', null)).status).toBe(200);
    expect((await httpGet(leaderId, '/readyz', null)).status).toBe(200);
    for (const path of ['/metrics', '/status', '/nothing']) {
      expect([path, (await httpGet(leaderId, path, null)).status]).toEqual([path, 401]);
      expect([path, (await httpGet(leaderId, path, unknownToken)).status]).toEqual([path, 401]);
      expect([path, (await httpGet(leaderId, path, tokens.worker)).status]).toEqual([path, 403]);
    }
    expect((await httpGet(leaderId, '/metrics', tokens.readonly)).status).toBe(200);
    expect((await httpGet(leaderId, '/status', tokens.readonly)).status).toBe(200);
    expect((await httpGet(leaderId, '/chaos', tokens.client, 'PUT')).status).toBe(403);
    // gRPC health checks are open too.
    const health = await new Promise<number>((resolve) =>
      clientsOf(leaderId).generic.makeUnaryRequest(
        '/grpc.health.v1.Health/Check',
        () => Buffer.alloc(0),
        (bytes: Buffer) => bytes,
        {},
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (error) => resolve(error === null ? 0 : error.code),
      ),
    );
    expect(health).toBe(grpc.status.OK);
  });

  it("refuses a session under another worker's id; the worker keeps its session", async () => {
    const before = metricValue(await leaderMetrics(), 'testudo_worker_sessions_refused_total', 'reason="identity"');
    expect((await session(leaderId, metadata(null), { workerId: 'w-new0' })).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await session(leaderId, metadata(tokens.client), { workerId: 'w-new0' })).code).toBe(grpc.status.PERMISSION_DENIED);
    const noKey = await session(leaderId, metadata(tokens.worker), { workerId });
    const wrongKey = await session(leaderId, metadata(tokens.worker), { workerId, sessionKey: newToken() });
    expect([noKey.code, noKey.welcomed, wrongKey.code, wrongKey.welcomed]).toEqual([grpc.status.PERMISSION_DENIED, false, grpc.status.PERMISSION_DENIED, false]);
    expect(wrongKey.details).toMatch(/session key/);
    expect(metricValue(await leaderMetrics(), 'testudo_worker_sessions_refused_total', 'reason="identity"') - before).toBe(2);
    const w1 = (await admin.listWorkers()).find((w) => w.workerId === workerId);
    expect(w1?.connected).toBe(true);
    expect(w1?.name).toBe('w1');
  });

  it("refuses and counts results for another worker's attempt; the run ends on the real result", async () => {
    const { runId } = await admin.submitRun(sleepRun('foreign', 1, 3));
    const attempt = await waitFor('the attempt to run on w1', async () => (await admin.getRun(runId)).tasks[0]?.attempts.find((a) => a.workerId === workerId && a.state === 'running'));
    const before = await leaderMetrics();
    const forged = (names: string): string =>
      JSON.stringify({ attemptId: attempt.attemptId, taskId: parseAttemptId(attempt.attemptId)?.taskId ?? '', workerId: names, outcome: 'passed', infraClass: '', reason: '', exitCode: 0, signal: '', startedAtMs: 1, finishedAtMs: 2, tests: [], outputTail: '', logBytes: 0 });
    const evil = await session(leaderId, metadata(tokens.worker), { workerId: 'w-evil0001', sessionKey: newToken() }, (stream) => {
      stream.write({ results: { results: [forged('w-evil0001'), forged(workerId)] } });
    });
    expect(evil.welcomed).toBe(true);
    const after = await leaderMetrics();
    const grown = (reason: string): number => metricValue(after, 'testudo_worker_results_refused_total', `reason="${reason}"`) - metricValue(before, 'testudo_worker_results_refused_total', `reason="${reason}"`);
    expect({ foreign: grown('foreign-attempt'), names: grown('names-other-worker') }).toEqual({ foreign: 1, names: 1 });
    const run = await finishRun(admin, runId, 60_000);
    expect(run.state).toBe('passed');
    const attempts = run.tasks[0]!.attempts;
    expect(attempts.map((a) => [a.workerId, a.state])).toEqual([[workerId, 'passed']]);
    expect(attempts[0]!.result?.startedAtMs).not.toBe(1);
  });

  it('the CLI presents --token-file and exits 4 when refused', async () => {
    const endpoints = [...cluster.members.values()].map((m) => m.grpcAddress).join(',');
    const none = await runTestudo(['kv', 'get', 'sec/kept', '--coordinators', endpoints], 30_000);
    expect([none.code, none.stderr]).toEqual([4, expect.stringMatching(/refused by the cluster.*UNAUTHENTICATED[\s\S]*--token-file/)]);
    const wrong = await runTestudo(['kv', 'put', 'sec/cli', 'v', '--coordinators', endpoints, '--token-file', files['readonly']!], 30_000);
    expect([wrong.code, wrong.stderr]).toEqual([4, expect.stringMatching(/PERMISSION_DENIED/)]);
    const runs = await admin.listRuns();
    const reportDir = join(dir, 'reports');
    const report = await runTestudo(['runs', 'report', runs[0]!.runId, '--coordinators', endpoints, '--token-file', files['client']!, '--report-dir', reportDir], 30_000);
    expect([report.code, report.stdout]).toEqual([0, expect.stringContaining('reports written')]);
  });

  it('writes audit lines for admin actions, allowed and refused', async () => {
    await admin.drainWorker(workerId);
    await admin.drainWorker(workerId, true);
    const lines = (await Promise.all([...cluster.members.values()].map((m) => readFile(m.logPath, 'utf8')))).join('\n').split('\n');
    const audit = lines.filter((l) => l.includes('"audit":true')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const seen = (action: string, who: string, outcome: string): boolean => audit.some((a) => a['action'] === action && a['who'] === who && a['outcome'] === outcome);
    expect(seen('Runs.DrainWorker', names.admin, 'OK')).toBe(true);
    expect(seen('Kv.Put', names.admin, 'OK')).toBe(true);
    expect(seen('Cluster.RemoveMember', names.client, 'PERMISSION_DENIED')).toBe(true);
    expect(seen('Cluster.TransferLeader', 'unauthenticated', 'UNAUTHENTICATED')).toBe(true);
    // BreakerConfig reads with readonly; a change is an admin action, refused (and audited) once the request shows it.
    expect(seen('Runs.BreakerConfig', names.client, 'PERMISSION_DENIED')).toBe(true);
    // Reads are not admin actions.
    expect(audit.some((a) => a['action'] === 'Kv.Get' || a['action'] === 'Runs.ListRuns')).toBe(false);
    for (const a of audit) expect(Object.keys(a)).toEqual(expect.arrayContaining(['time', 'who', 'action', 'outcome', 'remote']));
  });

  it('never shows a token in any log line, metric, status or report of the whole session', async () => {
    const texts: string[] = [];
    for (const m of cluster.members.values()) {
      texts.push(await readFile(m.logPath, 'utf8'));
      texts.push((await httpGet(m.id, '/metrics', tokens.readonly)).body);
      texts.push((await httpGet(m.id, '/status', tokens.readonly)).body);
    }
    texts.push(await readFile(cluster.worker('w1').logPath, 'utf8'));
    const reportDir = join(dir, 'reports');
    await mkdir(reportDir, { recursive: true });
    for (const name of await readdir(reportDir)) texts.push(await readFile(join(reportDir, name), 'utf8'));
    expect(texts.length).toBeGreaterThanOrEqual(3 * 3 + 1 + 4);
    const all = texts.join('\n');
    for (const [name, token] of Object.entries({ ...tokens, unknownToken })) expect([name, all.includes(token)]).toEqual([name, false]);
    for (const token of Object.values(tokens)) expect(all.includes(tokenHash(token).toString('hex'))).toBe(false);
  });
});
