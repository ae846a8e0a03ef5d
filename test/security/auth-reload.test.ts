// The auth file read again on SIGHUP, and the worker's HTTP port checking
// callers, on one real cluster: a coordinator process with TLS and an auth
// file, a worker serving HTTPS with the same auth file, a second worker
// serving plain HTTP on loopback with chaos hooks. Tokens are added and
// removed by rewriting the file and sending `kill -HUP`.

import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { setChaosHooks } from '../../src/failure-injection/observer.js';
import { newToken, tokenHash } from '../../src/security/auth-token.js';
import { httpsGet } from '../../src/security/tls-http.js';
import { clientTlsCredentials, ReloadableTls } from '../../src/security/tls.js';
import { clientFor, startCluster, waitFor } from '../integration/harness.js';
import { makeCertSet, type CertSet } from './tls-fixtures.js';

type Name = 'admin' | 'client' | 'readonly' | 'worker' | 'n1' | 'client2';
const tokens: Record<Name, string> = { admin: newToken(), client: newToken(), readonly: newToken(), worker: newToken(), n1: newToken(), client2: newToken() };
const roleOf: Record<Name, string> = { admin: 'admin', client: 'client', readonly: 'readonly', worker: 'worker', n1: 'peer', client2: 'client' };

let certs: CertSet;
let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let dir: string;
let authFile: string;
let caOnly: ReloadableTls;
const tokenFiles: Partial<Record<Name, string>> = {};

/** Writes the auth file holding `names` (write then rename: a reload never reads half a file). */
async function writeAuthFile(names: readonly Name[], text?: string): Promise<void> {
  const byRole = new Map<string, string[]>();
  for (const name of names) byRole.set(roleOf[name], [...(byRole.get(roleOf[name]) ?? []), `  - { name: ${name}, sha256: ${tokenHash(tokens[name]).toString('hex')} }`]);
  const body = text ?? [...byRole].map(([role, lines]) => `${role}:\n${lines.join('\n')}`).join('\n');
  await writeFile(`${authFile}.tmp`, `${body}\n`);
  await rename(`${authFile}.tmp`, authFile);
}

function client(name: Name | null): TestudoClient {
  return clientFor(cluster, {
    credentials: clientTlsCredentials({ caFile: certs.ca.certFile }),
    totalTimeoutMs: 5_000,
    retry: { attemptsMax: 3, backoffBaseMs: 10, backoffMaxMs: 50 },
    ...(name === null ? {} : { token: tokens[name] }),
  });
}

/** The gRPC status code a ListRuns call by `name` ends with (0: allowed). */
async function listRunsCode(name: Name): Promise<number> {
  const c = client(name);
  try {
    await c.listRuns();
    return 0;
  } catch (error) {
    return (error as { grpcCode?: number }).grpcCode ?? -1;
  } finally {
    c.close();
  }
}

async function workerHttps(worker: string, path: string, name: Name | null): Promise<number> {
  const url = `https://${cluster.worker(worker).httpAddress}${path}`;
  const response = await httpsGet(url, caOnly, { timeoutMs: 5_000, headers: name === null ? {} : { authorization: `Bearer ${tokens[name]}` } });
  return response.status;
}

async function workerHttp(worker: string, path: string, name: Name | null, method = 'GET'): Promise<number> {
  const response = await fetch(`http://${cluster.worker(worker).httpAddress}${path}`, { method, headers: name === null ? {} : { authorization: `Bearer ${tokens[name]}` } });
  await response.text();
  return response.status;
}

function hangUp(pid: number | undefined): void {
  expect(pid).toBeTypeOf('number');
  process.kill(pid!, 'SIGHUP');
}

async function logOf(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

const coordinatorLog = (): Promise<string> => logOf(cluster.member('n1').logPath);

beforeAll(async () => {
  certs = await makeCertSet('testudo-reload-');
  dir = certs.dir;
  authFile = join(dir, 'auth.yaml');
  await writeAuthFile(['admin', 'client', 'readonly', 'worker', 'n1']);
  for (const name of Object.keys(tokens) as Name[]) {
    tokenFiles[name] = join(dir, `${name}.token`);
    await writeFile(tokenFiles[name], `${tokens[name]}\n`, { mode: 0o600 });
  }
  caOnly = ReloadableTls.load({ caFile: certs.ca.certFile, certFile: null, keyFile: null });
  const tls = ['--tls-cert', certs.node.certFile, '--tls-key', certs.node.keyFile, '--tls-ca', certs.ca.certFile];
  const started = await startCluster({ coordinators: 1, basePort: 0, workerTtlMs: 1_000, workerGraceMs: 1_000, memberArgs: () => [...tls, '--auth-file', authFile, '--token-file', tokenFiles.n1!] });
  cluster = started.cluster;
  cleanup = started.cleanup;
  const admin = client('admin');
  await waitFor('the coordinator to lead', async () => (await admin.clusterStatus()).members.some((m) => m.role === 'leader'), 60_000);
  const workerTls = ['--tls-ca', certs.ca.certFile, '--token-file', tokenFiles.worker!, '--auth-file', authFile];
  await cluster.startWorker('w1', { slots: 1, extraArgs: [...workerTls, '--tls-cert', certs.worker.certFile, '--tls-key', certs.worker.keyFile] });
  await cluster.startWorker('w2', { slots: 1, extraArgs: [...workerTls, '--chaos-hooks'] });
  await waitFor('both workers to connect', async () => (await admin.listWorkers()).filter((w) => w.connected).length === 2, 60_000);
  admin.close();
}, 120_000);

afterAll(async () => {
  await cleanup?.();
  await rm(dir, { recursive: true, force: true });
});

describe("a worker's HTTP port with --auth-file", () => {
  it('answers /livez to anyone and /metrics, /status, /logs only to a readonly token or better, over HTTPS', async () => {
    expect(await workerHttps('w1', '/livez', null)).toBe(200);
    for (const path of ['/metrics', '/status', '/logs/a-none-1']) {
      expect(await workerHttps('w1', path, null)).toBe(401);
      expect(await workerHttps('w1', path, 'worker')).toBe(403);
    }
    expect(await workerHttps('w1', '/metrics', 'readonly')).toBe(200);
    expect(await workerHttps('w1', '/status', 'client')).toBe(200);
    // Past the check: no such attempt here.
    expect(await workerHttps('w1', '/logs/a-none-1', 'readonly')).toBe(404);
    expect(await workerHttps('w1', '/no-such-route', null)).toBe(401);
  });

  it('lets only an admin token change the chaos settings, and the chaos harness presents one', async () => {
    expect(await workerHttp('w2', '/chaos', null)).toBe(401);
    expect(await workerHttp('w2', '/chaos', 'readonly')).toBe(200);
    expect(await workerHttp('w2', '/chaos', 'client', 'DELETE')).toBe(403);
    await expect(setChaosHooks(cluster.worker('w2').httpAddress!, { crashRate: 0 })).rejects.toThrow(/HTTP 401/);
    await expect(setChaosHooks(cluster.worker('w2').httpAddress!, { crashRate: 0 }, 2_000, tokens.client)).rejects.toThrow(/HTTP 403/);
    await setChaosHooks(cluster.worker('w2').httpAddress!, { crashRate: 0 }, 2_000, tokens.admin);
    await setChaosHooks(cluster.worker('w2').httpAddress!, null, 2_000, tokens.admin);
    const log = await logOf(cluster.worker('w2').logPath);
    expect(log).toMatch(/"audit":true.*"who":"admin".*"action":"HTTP PUT \/chaos".*"outcome":"allowed"/);
    expect(log).toMatch(/"audit":true.*"who":"client".*"action":"HTTP DELETE \/chaos"/);
  });
});

describe('the auth file reloaded on SIGHUP', () => {
  it('accepts a new token and refuses a removed one at once, and ends the open session of a removed worker token', async () => {
    expect(await listRunsCode('client2')).toBe(grpc.status.UNAUTHENTICATED);
    expect(await listRunsCode('readonly')).toBe(0);
    // Drops readonly and worker, adds client2.
    await writeAuthFile(['admin', 'client', 'client2', 'n1']);
    hangUp(cluster.member('n1').child?.pid);
    await waitFor('the coordinator to reload', async () => /"event":"auth-reloaded"/.test(await coordinatorLog()), 10_000);
    expect(await listRunsCode('client2')).toBe(0);
    expect(await listRunsCode('readonly')).toBe(grpc.status.UNAUTHENTICATED);
    expect(await listRunsCode('client')).toBe(0);
    const log = await coordinatorLog();
    expect(log).toMatch(/"event":"auth-reloaded".*"accepted":\{[^}]*"client":2/);
    // The workers' open sessions were ended; they cannot come back with the removed token.
    const admin = client('admin');
    try {
      await waitFor('the workers to be cut off', async () => (await admin.listWorkers()).every((w) => !w.connected), 15_000);
    } finally {
      admin.close();
    }
    await waitFor('w1 to be refused', async () => /the coordinator refused this worker.*UNAUTHENTICATED|UNAUTHENTICATED.*the coordinator refused this worker/.test(await logOf(cluster.worker('w1').logPath)), 15_000);
    for (const token of Object.values(tokens)) expect(log).not.toContain(token);
  });

  it("makes a worker's HTTP port refuse a token removed from its auth file", async () => {
    expect(await workerHttps('w1', '/metrics', 'readonly')).toBe(200);
    hangUp(cluster.worker('w1').child?.pid);
    await waitFor('the worker to reload', async () => /"event":"auth-reloaded"/.test(await logOf(cluster.worker('w1').logPath)), 10_000);
    expect(await workerHttps('w1', '/metrics', 'readonly')).toBe(401);
    expect(await workerHttps('w1', '/metrics', 'client2')).toBe(200);
  });

  it('keeps the table in use when the new file is bad or drops this node, and says why', async () => {
    const reloadsRefused = async (): Promise<number> => (await coordinatorLog()).split('\n').filter((l) => l.includes('"event":"auth-reload-refused"')).length;
    await writeAuthFile([], 'admin: [ { name: x, sha256: nothex } ]');
    hangUp(cluster.member('n1').child?.pid);
    await waitFor('the bad file to be refused', async () => (await reloadsRefused()) === 1, 10_000);
    // Without its own peer entry the node's peers would refuse it: refused too.
    await writeAuthFile(['admin', 'client']);
    hangUp(cluster.member('n1').child?.pid);
    await waitFor('the file without n1 to be refused', async () => (await reloadsRefused()) === 2, 10_000);
    const log = await coordinatorLog();
    expect(log).toMatch(/auth-reload-refused.*sha256 must be 64 hex digits/);
    expect(log).toMatch(/auth-reload-refused.*no longer holds this node's own peer entry \(n1\)/);
    // The table of the last good file is still in force.
    expect(await listRunsCode('client2')).toBe(0);
    expect(await listRunsCode('readonly')).toBe(grpc.status.UNAUTHENTICATED);
    // Ending calls from the interceptor left the handlers behind them without a crash or an unhandled error.
    expect(cluster.member('n1').child).not.toBeNull();
    expect(log).not.toMatch(/"level":60|uncaught|unhandled|ERR_HTTP2/i);
  });
});
