// `testudo up` never attaches to another cluster. A real foreign cluster (a
// LocalCluster of coordinator processes and a worker, on fixed free ports)
// holds the ports; `up` on the same ports fails before starting anything,
// naming the port (exit 2); a worker of another cluster is refused by its
// leader before it is registered; the readiness check refuses a cluster whose
// members report another id; `up` fails (exit 3) when one of its own
// coordinators exits during start, and reports a healthy start with its
// cluster's id.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TestudoClient } from '../../src/client/index.js';
import { freePortRange, LocalCluster, testudoCommand } from '../../src/cluster/local-cluster.js';
import { ForeignClusterError, waitLocalClusterReady } from '../../src/cluster/ready.js';
import { clientFor, waitFor } from '../integration/harness.js';
import { runCli } from './cli-process.js';

/** Tries to find `count` consecutive free ports for a gRPC and an HTTP range. */
const portRunTriesMax = 100;

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A first port of `count` consecutive ports that were all free a moment ago, from the range LocalCluster hands out from. */
async function freePortRun(count: number): Promise<number> {
  for (let i = 0; i < portRunTriesMax; i++) {
    const base = freePortRange.min + Math.floor(Math.random() * (freePortRange.max - freePortRange.min - count));
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await canBind(p);
    if (free) return base;
  }
  throw new Error(`no run of ${count} free ports after ${portRunTriesMax} tries`);
}

let root: string;
let foreign: LocalCluster;
let foreignClient: TestudoClient;
let grpcBase: number;
let httpBase: number;
const children: ChildProcess[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'testudo-up-foreign-'));
  grpcBase = await freePortRun(3);
  httpBase = await freePortRun(3);
  foreign = new LocalCluster({ coordinators: 3, dataDir: join(root, 'foreign'), basePort: grpcBase, baseHttpPort: httpBase, logLevel: 'info' });
  await foreign.start();
  await foreign.startWorker('fw1', { executor: 'noop' });
  foreignClient = clientFor(foreign);
  await waitFor('the foreign worker connected', async () => (await foreignClient.listWorkers()).some((w) => w.name === 'fw1' && w.connected), 30_000);
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  foreignClient?.close();
  await foreign?.stop();
  await rm(root, { recursive: true, force: true });
});

describe('testudo up next to another cluster', () => {
  it('fails with exit 2 naming the taken gRPC port, before starting anything', async () => {
    const dataDir = join(root, 'up-grpc');
    const out = await runCli(['up', '--base-port', String(grpcBase), '--http-base-port', '0', '--workers', '1', '--data-dir', dataDir]);
    expect(out.code).toBe(2);
    expect(out.stderr.toString()).toContain(`127.0.0.1:${grpcBase} (n1's gRPC port) is already in use`);
    expect(out.stdout.toString()).not.toContain('coordinators are up');
    expect(existsSync(join(dataDir, 'n1'))).toBe(false);
    // Nothing of this `up` reached the other cluster.
    expect((await foreignClient.listWorkers()).map((w) => w.name)).toEqual(['fw1']);
  });

  it('fails the same way when only an HTTP port is taken', async () => {
    const out = await runCli(['up', '--base-port', '0', '--http-base-port', String(httpBase + 1), '--workers', '0', '--data-dir', join(root, 'up-http')]);
    expect(out.code).toBe(2);
    expect(out.stderr.toString()).toContain(`127.0.0.1:${httpBase + 1} (n1's HTTP port) is already in use`);
  });

  it("has a worker of another cluster refused by the leader, never registered", async () => {
    const [command, prefix] = testudoCommand();
    const workDir = join(root, 'intruder');
    await mkdir(workDir);
    const worker = spawn(command, [...prefix, 'worker', '--coordinators', foreign.endpoints().join(','), '--work-dir', workDir, '--name', 'intruder', '--cluster-id', 'some-other-cluster'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOG_FORMAT: 'json' },
    });
    children.push(worker);
    let log = '';
    worker.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    await waitFor('the refusal in the worker log', () => log.includes('cluster id mismatch'), 30_000);
    expect(log).toContain('the coordinator refused this worker');
    expect(log).toContain(`belongs to cluster \\"${foreign.clusterId}\\"`);
    expect((await foreignClient.listWorkers()).map((w) => w.name)).toEqual(['fw1']);
    worker.kill('SIGTERM');
  });

  it('refuses, in the readiness check, a cluster whose members report another id', async () => {
    const mine = new LocalCluster({ coordinators: 3, dataDir: join(root, 'mine'), basePort: 0, baseHttpPort: null, clusterId: 'mine-1' });
    await mine.prepare();
    const error = await waitLocalClusterReady(mine, foreignClient, { timeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ForeignClusterError);
    expect(error).toMatchObject({ clusterId: foreign.clusterId, expectedClusterId: 'mine-1' });
    expect((error as Error).message).toContain('another Testudo cluster holds these ports');
  });
});

describe('testudo up on its own ports', () => {
  it('fails with exit 3 when one of its coordinators exits during start, showing the end of its log', async () => {
    const dataDir = join(root, 'up-refused');
    // n1's directory belongs to another node: that coordinator refuses to start (exit 3).
    await mkdir(join(dataDir, 'n1'), { recursive: true });
    await writeFile(join(dataDir, 'n1', 'cluster.json'), `${JSON.stringify({ clusterId: 'old-cluster', nodeId: 'n9' })}\n`);
    const out = await runCli(['up', '--base-port', '0', '--http-base-port', '0', '--workers', '0', '--data-dir', dataDir]);
    expect(out.code).toBe(3);
    const stderr = out.stderr.toString();
    expect(stderr).toContain('coordinator n1 exited during start (code 3)');
    expect(stderr).toContain('belongs to node n9');
    expect(out.stdout.toString()).not.toContain('coordinators are up');
  });

  it('starts with a cluster id of its own that its members and workers carry, and stops on SIGTERM', async () => {
    const dataDir = join(root, 'up-ok');
    const [command, prefix] = testudoCommand();
    const up = spawn(command, [...prefix, 'up', '--base-port', '0', '--http-base-port', '0', '--workers', '1', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(up);
    let stdout = '';
    let stderr = '';
    up.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    up.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    const clusterId = await waitFor('up to report its cluster', () => (stderr.includes('\nTry: ') ? /coordinators are up \(cluster (local-[0-9a-f]{16})\)/.exec(stdout)?.[1] : undefined), 60_000);
    expect(clusterId).not.toBe(foreign.clusterId);
    const founded = JSON.parse(await readFile(join(dataDir, 'n2', 'cluster.json'), 'utf8')) as { clusterId: string };
    expect(founded.clusterId).toBe(clusterId);
    const endpoints = [...stdout.matchAll(/^ {2}n\d+ {2}grpc (\S+)/gm)].map((m) => m[1]!);
    expect(endpoints).toHaveLength(3);
    const client = new TestudoClient({ endpoints, totalTimeoutMs: 20_000 });
    try {
      const status = await client.clusterStatus();
      expect(status.members.map((m) => m.clusterId)).toEqual([clusterId, clusterId, clusterId]);
      await waitFor('w1 connected', async () => (await client.listWorkers()).some((w) => w.name === 'w1' && w.connected), 30_000);
    } finally {
      client.close();
    }
    up.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('all workers and coordinators stopped');
    expect(stdout).not.toContain('stopped');
  });
});
