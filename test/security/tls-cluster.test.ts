// One real cluster over mutual TLS (3 coordinator processes and a worker on
// 127.0.0.1, certificates from `certs init`'s code): a run end to end, the
// HTTPS ports, every kind of refused client, and certificate rotation on
// SIGHUP without a leader change.
import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { clientTlsCredentials, type TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { httpsGet } from '../../src/security/tls-http.js';
import { ReloadableTls, TlsMaterialError } from '../../src/security/tls.js';
import { runCli } from '../cli/cli-process.js';
import { clientFor, stableLeader, startCluster, waitFor } from '../integration/harness.js';
import { finishRun, sleepRun } from '../integration/runs-harness.js';
import { expiredValidity, fingerprintOf, issueExtra, makeCertSet, presentedFingerprint, type CertSet } from './tls-fixtures.js';

let certs: CertSet;
let otherCa: CertSet;
let cluster: LocalCluster;
let client: TestudoClient;
let cleanup: () => Promise<void> = async () => undefined;

/** Each coordinator gets its own copy of node.pem, so one can be rotated alone. */
const memberCert = (id: string): { certFile: string; keyFile: string } => ({ certFile: join(certs.dir, `${id}.pem`), keyFile: join(certs.dir, `${id}-key.pem`) });

function clientWith(credentials: grpc.ChannelCredentials | undefined, totalTimeoutMs = 1_500): TestudoClient {
  return clientFor(cluster, { totalTimeoutMs, callTimeoutMs: 500, retry: { attemptsMax: 3, backoffBaseMs: 10, backoffMaxMs: 50 }, ...(credentials === undefined ? {} : { credentials }) });
}

async function refused(credentials: grpc.ChannelCredentials | undefined): Promise<Error> {
  const c = clientWith(credentials);
  try {
    await c.clusterStatus();
  } catch (error) {
    return error as Error;
  } finally {
    c.close();
  }
  throw new Error('the call went through');
}

beforeAll(async () => {
  certs = await makeCertSet();
  otherCa = await makeCertSet('testudo-tls-other-');
  for (const id of ['n1', 'n2', 'n3']) {
    await copyFile(certs.node.certFile, memberCert(id).certFile);
    await copyFile(certs.node.keyFile, memberCert(id).keyFile);
  }
  const started = await startCluster({
    memberArgs: (id) => ['--tls-cert', memberCert(id).certFile, '--tls-key', memberCert(id).keyFile, '--tls-ca', certs.ca.certFile, '--tls-client-auth'],
  });
  cluster = started.cluster;
  cleanup = started.cleanup;
  client = clientFor(cluster, { credentials: clientTlsCredentials({ caFile: certs.ca.certFile, certFile: certs.client.certFile, keyFile: certs.client.keyFile }) });
  await stableLeader(client, 3);
  await cluster.startWorker('w1', { slots: 2, killGraceMs: 500, extraArgs: ['--tls-ca', certs.ca.certFile, '--tls-cert', certs.worker.certFile, '--tls-key', certs.worker.keyFile] });
  await waitFor('the worker to connect over TLS', async () => (await client.listWorkers()).some((w) => w.connected), 60_000);
}, 120_000);

afterAll(async () => {
  client?.close();
  await cleanup();
  await certs?.cleanup();
  await otherCa?.cleanup();
});

describe('a cluster over mutual TLS', () => {
  it('runs tasks end to end: Raft peers, forwarding, a worker and a client all on TLS', async () => {
    const { runId } = await client.submitRun(sleepRun('tls-e2e', 3, 0));
    const run = await finishRun(client, runId);
    expect(run.state).toBe('passed');
    expect(run.tasks.every((t) => t.state === 'passed')).toBe(true);
    // A write through a follower is forwarded to the leader over the coordinators' own TLS channels.
    const status = await client.clusterStatus();
    const follower = status.members.find((m) => m.role !== 'leader')!;
    const viaFollower = clientFor(cluster, { endpoints: [follower.address], credentials: clientTlsCredentials({ caFile: certs.ca.certFile, certFile: certs.client.certFile, keyFile: certs.client.keyFile }) });
    try {
      await viaFollower.put('tls/forwarded', new TextEncoder().encode('yes'));
      expect(new TextDecoder().decode((await client.get('tls/forwarded')).value!)).toBe('yes');
    } finally {
      viaFollower.close();
    }
  });

  it('serves the HTTP ports over HTTPS only, coordinators and workers alike', async () => {
    const tls = ReloadableTls.load({ caFile: certs.ca.certFile, certFile: null, keyFile: null });
    for (const m of cluster.members.values()) {
      const reply = await httpsGet(`https://${m.httpAddress}/livez`, tls, { timeoutMs: 5_000 });
      expect(reply.status).toBe(200);
      await expect(fetch(`http://${m.httpAddress}/livez`, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
    }
    const worker = cluster.worker('w1');
    const status = (await (await httpsGet(`https://${worker.httpAddress}/status`, tls, { timeoutMs: 5_000 })).json()) as { connected: boolean };
    expect(status.connected).toBe(true);
  });

  it('takes the TLS flags on the client command line, and without them cannot reach the cluster', async () => {
    const endpoints = cluster.endpoints().join(',');
    const ok = await runCli(['cluster', 'status', '--coordinators', endpoints, '--tls-ca', certs.ca.certFile, '--tls-cert', certs.client.certFile, '--tls-key', certs.client.keyFile]);
    expect(ok.stderr.toString()).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout.toString()).toMatch(/leader/);
    const plain = await runCli(['workers', 'list', '--coordinators', endpoints, '--wait', '2000'], { TESTUDO_TLS_CA: undefined, TESTUDO_TLS_CERT: undefined, TESTUDO_TLS_KEY: undefined });
    expect(plain.code).toBe(3);
    expect(plain.stdout.toString() + plain.stderr.toString()).toMatch(/cannot reach the Testudo cluster[\s\S]*if the cluster uses TLS, pass --tls-ca/);
    // `runs log` fetches an attempt's log from the worker's HTTPS port.
    const attemptId = (await client.getRun((await client.listRuns())[0]!.runId)).tasks[0]!.attempts[0]!.attemptId;
    const log = await runCli(['runs', 'log', attemptId, '--coordinators', endpoints, '--tls-ca', certs.ca.certFile, '--tls-cert', certs.client.certFile, '--tls-key', certs.client.keyFile]);
    expect(log.stderr.toString()).toBe('');
    expect(log.stdout.toString()).toMatch(/sleeping 0 s for t\d/);
    const halfPair = await runCli(['cluster', 'status', '--coordinators', endpoints, '--tls-ca', certs.ca.certFile, '--tls-cert', certs.client.certFile]);
    expect(halfPair.code).toBe(2);
    expect(halfPair.stderr.toString()).toMatch(/--tls-cert is set without its pair/);
  });

  it('refuses a plaintext client', async () => {
    const error = await refused(grpc.credentials.createInsecure());
    expect(error.name).toMatch(/Unavailable|RetriesExhausted|DeadlineExceeded/);
  });

  it('refuses a client without a certificate (mutual TLS is required)', async () => {
    const error = await refused(clientTlsCredentials({ caFile: certs.ca.certFile }));
    expect(error.name).toMatch(/Unavailable|RetriesExhausted|DeadlineExceeded/);
  });

  it('refuses a client certificate from another CA, and the client refuses servers its CA did not sign', async () => {
    const ca = await readFile(certs.ca.certFile);
    const foreignCert = createSslFrom(ca, otherCa.client);
    expect((await refused(await foreignCert)).name).toMatch(/Unavailable|RetriesExhausted|DeadlineExceeded/);
    const trustsOtherCa = clientTlsCredentials({ caFile: otherCa.ca.certFile, certFile: otherCa.client.certFile, keyFile: otherCa.client.keyFile });
    expect((await refused(trustsOtherCa)).name).toMatch(/Unavailable|RetriesExhausted|DeadlineExceeded/);
  });

  it('refuses an expired client certificate, which the loader refuses to use in the first place', async () => {
    const expired = await issueExtra(certs, 'expired-client', { validity: expiredValidity() });
    expect(() => clientTlsCredentials({ caFile: certs.ca.certFile, ...expired })).toThrow(TlsMaterialError);
    expect(() => clientTlsCredentials({ caFile: certs.ca.certFile, ...expired })).toThrow(/expired/);
    // Presented anyway (bypassing the loader), the coordinators refuse it.
    const error = await refused(await createSslFrom(await readFile(certs.ca.certFile), expired));
    expect(error.name).toMatch(/Unavailable|RetriesExhausted|DeadlineExceeded/);
  });

  it('rotates a certificate on SIGHUP: new connections get it, the cluster keeps its leader and the worker its session', async () => {
    const before = await stableLeader(client, 3);
    const leader = cluster.member(before.leaderId);
    const sessionsBefore = await workerSessions();
    const oldFingerprint = await presentedFingerprint(leader.grpcAddress, certs);
    expect(oldFingerprint).toBe(await fingerprintOf(certs.node.certFile));

    const rotated = await issueExtra(certs, `${leader.id}-rotated`, { commonName: `${leader.id}-rotated`, organizationalUnit: 'node', ipAddresses: ['127.0.0.1', '::1'] });
    await rename(rotated.keyFile, memberCert(leader.id).keyFile);
    await rename(rotated.certFile, memberCert(leader.id).certFile);
    const newFingerprint = await fingerprintOf(memberCert(leader.id).certFile);
    leader.child!.kill('SIGHUP');
    await waitFor('the reload to be logged', async () => (await readFile(leader.logPath, 'utf8')).includes('"tls-reloaded"'));
    expect(await presentedFingerprint(leader.grpcAddress, certs)).toBe(newFingerprint);
    expect(await presentedFingerprint(leader.httpAddress!, certs, 'http/1.1')).toBe(newFingerprint);

    // A bad file is refused, and the material in use stays.
    const good = await readFile(memberCert(leader.id).certFile);
    await writeFile(memberCert(leader.id).certFile, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    leader.child!.kill('SIGHUP');
    await waitFor('the refusal to be logged', async () => (await readFile(leader.logPath, 'utf8')).includes('"tls-reload-refused"'));
    expect(await presentedFingerprint(leader.grpcAddress, certs)).toBe(newFingerprint);
    await writeFile(memberCert(leader.id).certFile, good);

    // The worker reloads on SIGHUP too, and keeps its session.
    const worker = cluster.worker('w1');
    worker.child!.kill('SIGHUP');
    await waitFor('the worker to log its reload', async () => (await readFile(worker.logPath, 'utf8')).includes('"tls-reloaded"'));

    await client.put('tls/after-rotation', new TextEncoder().encode('ok'));
    const after = await stableLeader(client, 3);
    expect(after).toEqual(before);
    expect(await workerSessions()).toBe(sessionsBefore);
  });
});

async function workerSessions(): Promise<number> {
  const tls = ReloadableTls.load({ caFile: certs.ca.certFile, certFile: null, keyFile: null });
  const status = (await (await httpsGet(`https://${cluster.worker('w1').httpAddress}/status`, tls, { timeoutMs: 5_000 })).json()) as { sessions: number };
  return status.sessions;
}

/** grpc-js's own SSL credentials, which take any files without the loader's checks. */
async function createSslFrom(ca: Buffer, pair: { certFile: string; keyFile: string }): Promise<grpc.ChannelCredentials> {
  return grpc.credentials.createSsl(ca, await readFile(pair.keyFile), await readFile(pair.certFile));
}
