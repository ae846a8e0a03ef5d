// Identities proven by client certificates alone, end to end: a coordinator
// process under mutual TLS whose auth file names certificate common names
// (made by `testudo certs init`'s code, openssl) instead of tokens. A worker joins
// by its certificate, a client certificate runs tests, an admin certificate
// releases a lost worker's id with `testudo workers forget`, and the wrong
// identity is refused. No token anywhere.

import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { initCerts } from '../../src/security/certs.js';
import { clientTlsCredentials } from '../../src/security/tls.js';
import { clientFor, runTestudo, startCluster, waitFor } from '../integration/harness.js';
import { finishRun, sleepRun } from '../integration/runs-harness.js';

let dir: string;
let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let workerId = '';
const pem = (name: string): { certFile: string; keyFile: string } => ({ certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`) });

function clientAs(identity: string): TestudoClient {
  const { certFile, keyFile } = pem(identity);
  return clientFor(cluster, { credentials: clientTlsCredentials({ caFile: join(dir, 'ca.pem'), certFile, keyFile }), totalTimeoutMs: 5_000, retry: { attemptsMax: 3, backoffBaseMs: 10, backoffMaxMs: 50 } });
}

/** The gRPC status `fn` ends with as `identity` (0: allowed). */
async function codeAs(identity: string, fn: (c: TestudoClient) => Promise<unknown>): Promise<number> {
  const c = clientAs(identity);
  try {
    await fn(c);
    return 0;
  } catch (error) {
    return (error as { grpcCode?: number }).grpcCode ?? -1;
  } finally {
    c.close();
  }
}

function cli(identity: string, args: readonly string[]): ReturnType<typeof runTestudo> {
  const { certFile, keyFile } = pem(identity);
  return runTestudo([...args, '--coordinators', cluster.member('n1').grpcAddress, '--tls-ca', join(dir, 'ca.pem'), '--tls-cert', certFile, '--tls-key', keyFile], 30_000);
}

beforeAll(async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'testudo-certid-'));
  dir = join(scratch, 'certs');
  // What `testudo certs init DIR --identities worker,client,admin,intruder` writes (openssl), without a CLI start.
  await initCerts({ dir, hosts: [], identities: ['worker', 'client', 'admin', 'intruder'], days: 2, force: false });
  // Every entry a certificate common name; `intruder` is from the same CA but named nowhere.
  await writeFile(
    join(dir, 'auth.yaml'),
    ['peer:', '  - { name: n1, certificate: node }', 'worker:', '  - { name: fleet, certificate: worker }', 'client:', '  - { name: ci, certificate: client }', 'admin:', '  - { name: ops, certificate: admin }', ''].join('\n'),
  );
  const started = await startCluster({
    coordinators: 1,
    basePort: 0,
    workerTtlMs: 1_000,
    workerGraceMs: 1_000,
    memberArgs: () => ['--tls-cert', pem('node').certFile, '--tls-key', pem('node').keyFile, '--tls-ca', join(dir, 'ca.pem'), '--tls-client-auth', '--auth-file', join(dir, 'auth.yaml')],
  });
  cluster = started.cluster;
  cleanup = async () => {
    await started.cleanup();
    await rm(scratch, { recursive: true, force: true });
  };
  const admin = clientAs('admin');
  try {
    await waitFor('the coordinator to lead', async () => (await admin.clusterStatus()).members.some((m) => m.role === 'leader'), 60_000);
  } finally {
    admin.close();
  }
}, 120_000);

afterAll(async () => {
  await cleanup?.();
});

describe('certificate identities under mutual TLS', () => {
  it('lets a worker join by its client certificate alone, and a client certificate run tests on it', async () => {
    await cluster.startWorker('w1', { slots: 1, extraArgs: ['--tls-ca', join(dir, 'ca.pem'), '--tls-cert', pem('worker').certFile, '--tls-key', pem('worker').keyFile] });
    const client = clientAs('client');
    try {
      const worker = await waitFor('the worker to join', async () => (await client.listWorkers()).find((w) => w.name === 'w1' && w.connected), 60_000);
      workerId = worker.workerId;
      const { runId } = await client.submitRun(sleepRun('cert-run', 1, 0));
      const run = await finishRun(client, runId, 60_000);
      expect(run.state).toBe('passed');
    } finally {
      client.close();
    }
  });

  it('gives each certificate the role of its entry, and refuses a certificate the file does not name', async () => {
    expect(await codeAs('client', (c) => c.put('k', 'v'))).toBe(grpc.status.PERMISSION_DENIED);
    expect(await codeAs('admin', (c) => c.put('k', 'v'))).toBe(0);
    // The worker role stands alone: a worker certificate reads nothing.
    expect(await codeAs('worker', (c) => c.listRuns())).toBe(grpc.status.PERMISSION_DENIED);
    expect(await codeAs('intruder', (c) => c.listRuns())).toBe(grpc.status.UNAUTHENTICATED);
    const refused = await cli('intruder', ['workers', 'list']);
    expect(refused.code, refused.stderr).toBe(4);
  });

  it("releases a lost worker's id with `workers forget` (admin only), so a rebuilt machine registers under it", async () => {
    const notAdmin = await cli('client', ['workers', 'forget', workerId, '--reason', 'rebuilt']);
    expect(notAdmin.code, notAdmin.stderr).toBe(4);
    expect(notAdmin.stderr).toMatch(/PERMISSION_DENIED|role client/);
    // A connected worker still holds its id.
    expect(await codeAs('admin', (c) => c.forgetWorker(workerId))).toBe(grpc.status.FAILED_PRECONDITION);

    // The machine dies; a rebuilt one keeps worker-id but has lost session-key.
    await cluster.killWorker('w1', 'SIGKILL');
    const admin = clientAs('admin');
    try {
      await waitFor('w1 to be declared lost', async () => (await admin.listWorkers()).find((w) => w.workerId === workerId)?.state === 'lost', 30_000);
      const forgotten = await cli('admin', ['workers', 'forget', workerId, '--reason', 'machine rebuilt']);
      expect(forgotten.code, forgotten.stderr).toBe(0);
      expect(forgotten.stdout).toMatch(new RegExp(`worker ${workerId}: session key forgotten`));
      expect(await admin.forgetWorker(workerId)).toEqual({ wasBound: false });

      const rebuilt = join(dir, '..', 'rebuilt');
      await mkdir(rebuilt, { recursive: true });
      await copyFile(join(cluster.worker('w1').workDir, 'worker-id'), join(rebuilt, 'worker-id'));
      await cluster.startWorker('w1b', { slots: 1, extraArgs: ['--work-dir', rebuilt, '--tls-ca', join(dir, 'ca.pem'), '--tls-cert', pem('worker').certFile, '--tls-key', pem('worker').keyFile] });
      const back = await waitFor('the rebuilt worker to register under the old id', async () => (await admin.listWorkers()).find((w) => w.workerId === workerId && w.connected), 30_000);
      expect(back.name).toBe('w1b');
    } finally {
      admin.close();
    }
    const log = await readFile(cluster.member('n1').logPath, 'utf8');
    const audits = log.split('\n').filter((l) => l.includes('"action":"Runs.ForgetWorker"'));
    expect(audits.some((l) => /"who":"ci".*"outcome":"PERMISSION_DENIED"/.test(l))).toBe(true);
    expect(audits.some((l) => /"who":"ops".*"target":\{"workerId":"[^"]+","reason":"machine rebuilt"\}.*"outcome":"OK"/.test(l))).toBe(true);
  });
});
