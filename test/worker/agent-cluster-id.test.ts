// A worker given a cluster id (`--cluster-id`, what `testudo up` and `demo`
// pass) serves only that cluster: it says which in its hello, and leaves a
// session whose welcome names another cluster or none. Real gRPC Worker
// services with scripted welcomes stand in for coordinators of other
// clusters (the coordinators' own refusal is tested in test/cli/up-foreign.test.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import { WorkerAgent } from '../../src/worker/agent.js';
import { fakeCoordinator, onWorkerMessage, welcome } from './fake-coordinator.js';
import { waitUntil } from './helpers.js';

interface Coordinator {
  readonly address: string;
  /** The cluster id each hello carried. */
  readonly helloClusterIds: string[];
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fake coordinator whose Worker.Session welcomes every hello, naming `clusterId` ('': an older coordinator that names none). */
async function coordinator(clusterId: string): Promise<Coordinator> {
  const helloClusterIds: string[] = [];
  const fake = await fakeCoordinator((call) => {
    onWorkerMessage(call, (message) => {
      if (!message.hello) return;
      helloClusterIds.push(message.hello.clusterId);
      call.write(welcome('w', 'n1', 100, clusterId));
    });
    call.on('error', () => undefined);
  });
  cleanups.push(fake.stop);
  return { address: fake.address, helloClusterIds };
}

async function startAgent(coordinators: string[], clusterId: string | undefined): Promise<{ agent: WorkerAgent; lines: { level: number; msg: string; clusterId?: string }[] }> {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString('utf8').split('\n')) if (text !== '') lines.push(JSON.parse(text) as { level: number; msg: string });
      callback();
    },
  });
  const workDir = await mkdtemp(join(tmpdir(), 'testudo-agent-cid-'));
  const agent = await WorkerAgent.start({
    coordinators,
    workDir,
    capabilities: { labels: { os: 'linux' }, cpus: 1, memoryMb: 1024, tools: [] },
    slots: 1,
    logger: pino({ level: 'debug' }, sink),
    ...(clusterId === undefined ? {} : { clusterId }),
  });
  cleanups.push(async () => {
    await agent.stop();
    await rm(workDir, { recursive: true, force: true });
  });
  return { agent, lines };
}

describe('a worker with a cluster id', () => {
  it('opens a session with a coordinator of its cluster, and says which cluster in its hello', async () => {
    const own = await coordinator('cluster-a');
    const { agent } = await startAgent([own.address], 'cluster-a');
    expect(await waitUntil(() => agent.stats().connected, 10_000)).toBe(true);
    expect(own.helloClusterIds[0]).toBe('cluster-a');
  });

  it('leaves a coordinator of another cluster, or one that names none, and says so at error level', async () => {
    const foreign = await coordinator('cluster-b');
    const older = await coordinator('');
    const { agent, lines } = await startAgent([foreign.address, older.address], 'cluster-a');
    // Both were tried (the worker goes on dialling its list, in case its own cluster comes up there).
    expect(await waitUntil(() => foreign.helloClusterIds.length >= 2 && older.helloClusterIds.length >= 2, 10_000)).toBe(true);
    const refusals = lines.filter((l) => l.level === 50 && l.msg.includes('another cluster'));
    expect(refusals.map((l) => l.clusterId)).toEqual(expect.arrayContaining(['cluster-b', '']));
    expect(agent.stats()).toMatchObject({ connected: false, sessions: 0 });
  });

  it('without a cluster id serves any cluster (a worker started by hand, as before)', async () => {
    const any = await coordinator('cluster-b');
    const { agent } = await startAgent([any.address], undefined);
    expect(await waitUntil(() => agent.stats().connected, 10_000)).toBe(true);
    expect(any.helloClusterIds[0]).toBe('');
  });
});
