// The worker agent's session loop against real gRPC Worker services with
// scripted answers: an unreachable coordinator, a redirect, a coordinator that
// never answers hello.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import { WorkerAgent } from '../../src/worker/agent.js';
import { deadEndpoint } from '../client/fake-node.js';
import { fakeCoordinator, onWorkerMessage, welcome, type SessionCall } from './fake-coordinator.js';
import { waitUntil } from './helpers.js';

/** A fake coordinator with a scripted Worker.Session that counts the hellos it got. */
async function coordinator(session: (call: SessionCall) => void): Promise<{ address: string; hellos: () => number; stop: () => void }> {
  let hellos = 0;
  const fake = await fakeCoordinator((call) => {
    onWorkerMessage(call, (message) => {
      if (message.hello) hellos++;
    });
    session(call);
  });
  return { address: fake.address, hellos: () => hellos, stop: fake.stop };
}

function welcomes(leaderId: string): (call: SessionCall) => void {
  return (call) => call.write(welcome('w', leaderId, 1000));
}

interface LogLine {
  level: number;
  msg: string;
  address?: string;
  err?: string;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startAgent(coordinators: string[]): Promise<{ agent: WorkerAgent; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString('utf8').split('\n')) if (text !== '') lines.push(JSON.parse(text) as LogLine);
      callback();
    },
  });
  const workDir = await mkdtemp(join(tmpdir(), 'testudo-agent-'));
  const agent = await WorkerAgent.start({
    coordinators,
    workDir,
    capabilities: { labels: { os: 'linux' }, cpus: 1, memoryMb: 1024, tools: [] },
    slots: 1,
    logger: pino({ level: 'debug' }, sink),
  });
  cleanups.push(async () => {
    await agent.stop();
    await rm(workDir, { recursive: true, force: true });
  });
  return { agent, lines };
}

describe('worker sessions', () => {
  it('says at warn level, with the address and the error, that a coordinator cannot be reached', async () => {
    const dead = await deadEndpoint();
    const { lines } = await startAgent([dead]);
    expect(await waitUntil(() => lines.some((l) => l.level === 40 && l.address === dead), 10_000)).toBe(true);
    const warning = lines.find((l) => l.level === 40 && l.address === dead)!;
    expect(warning.msg).toContain(`cannot reach the coordinator at ${dead}`);
    expect(warning.err).toMatch(/UNAVAILABLE|ECONNREFUSED/);
    // Reported once per streak, not once per attempt.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(lines.filter((l) => l.level === 40 && l.address === dead)).toHaveLength(1);
  });

  it('follows a not_leader hint to the leader', async () => {
    const leader = await coordinator(welcomes('n2'));
    const follower = await coordinator((call) => {
      call.write({ notLeader: { leaderId: 'n2', leaderAddress: leader.address } });
      call.end();
    });
    cleanups.push(leader.stop, follower.stop);
    const { agent } = await startAgent([follower.address]);
    expect(await waitUntil(() => agent.stats().connected, 10_000)).toBe(true);
    expect(agent.stats().leaderId).toBe('n2');
    expect(leader.hellos()).toBe(1);
  });

  it('gives up a coordinator that never answers hello and opens a session with the next', async () => {
    const mute = await coordinator(() => undefined);
    const leader = await coordinator(welcomes('n2'));
    cleanups.push(mute.stop, leader.stop);
    const { agent, lines } = await startAgent([mute.address, leader.address]);
    expect(await waitUntil(() => agent.stats().connected, 15_000)).toBe(true);
    expect(mute.hellos()).toBeGreaterThanOrEqual(1);
    expect(lines.some((l) => l.level === 40 && l.address === mute.address && l.msg.includes('no welcome'))).toBe(true);
  });
});
