// TestudoClient.watchRun against real gRPC servers whose WatchRun is scripted:
// streams that stay open and silent, streams failed with and without their
// status, keepalives, leader hints.
import { Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerWritableStream, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';

import { DeadlineExceededError, NotFoundError, TestudoClient } from '../../src/client/index.js';
import type { RunSummary } from '../../src/model/index.js';
import { protoLoaderOptions, protoPath } from '../../src/common/protos.js';
import { failStream } from '../../src/coordinator/stream-status.js';

type WatchCall = ServerWritableStream<{ runId: string }, unknown>;
type WatchScript = (call: WatchCall, node: WatchNode) => void;

let runsService: ServiceDefinition | undefined;

function runs(): ServiceDefinition {
  runsService ??= loadSync(protoPath('testudo.proto'), protoLoaderOptions)['testudo.v1.Runs'] as ServiceDefinition;
  return runsService;
}

/** A real gRPC server whose WatchRun follows a script; the other Runs methods are not served. */
class WatchNode {
  watches = 0;
  private constructor(
    readonly id: string,
    readonly address: string,
    private readonly server: Server,
  ) {}

  static async start(id: string, script: WatchScript): Promise<WatchNode> {
    const server = new Server();
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
    });
    const node = new WatchNode(id, `127.0.0.1:${port}`, server);
    server.addService(runs(), {
      WatchRun: (call: WatchCall) => {
        node.watches++;
        script(call, node);
      },
    });
    return node;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

function summary(state: RunSummary['state'], passed: number): Record<string, unknown> {
  return { runId: 'r-1', name: 'watched', state, submittedAtMs: 1, finishedAtMs: state === 'running' ? 0 : 2, counts: { tasks: 2, queued: 0, running: 2 - passed, passed, failed: 0, cancelled: 0, failedInfra: 0 }, degraded: false };
}

const silent: WatchScript = () => undefined;

/** One progress message, then the run's end. */
const finishes: WatchScript = (call, node) => {
  call.write({ summary: summary('running', 1), servedBy: node.id });
  setTimeout(() => {
    call.write({ summary: summary('passed', 2), servedBy: node.id });
    call.end();
  }, 20);
};

function hintMetadata(code: string, leader: WatchNode | null): Metadata {
  const md = new Metadata();
  md.set('testudo-error', code);
  md.set('testudo-retryable', 'true');
  md.set('testudo-leader-id', leader?.id ?? '');
  md.set('testudo-leader-address', leader?.address ?? '');
  return md;
}

const nodes: WatchNode[] = [];
const clients: TestudoClient[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const n of nodes.splice(0)) n.stop();
});

async function startNodes(...scripts: WatchScript[]): Promise<WatchNode[]> {
  const started = await Promise.all(scripts.map((script, i) => WatchNode.start(`n${i + 1}`, script)));
  nodes.push(...started);
  return started;
}

function clientOf(started: readonly WatchNode[], options: { watchIdleMs?: number; totalTimeoutMs?: number } = {}): TestudoClient {
  const client = new TestudoClient({
    endpoints: started.map((n) => n.address),
    totalTimeoutMs: options.totalTimeoutMs ?? 20_000,
    watchIdleMs: options.watchIdleMs ?? 300,
    retry: { attemptsMax: 100, backoffBaseMs: 5, backoffMaxMs: 20 },
  });
  clients.push(client);
  return client;
}

async function follow(client: TestudoClient): Promise<RunSummary[]> {
  const seen: RunSummary[] = [];
  for await (const s of client.watchRun('r-1')) seen.push(s);
  return seen;
}

describe('watchRun across silent and failed streams', () => {
  it('leaves a stream that stays open and silent, and follows the run on the next endpoint', async () => {
    const [quiet, live] = await startNodes(silent, finishes);
    // An idle bound well above a loaded machine's connection set-up, so the call reaches the quiet node before the client leaves it.
    const seen = await follow(clientOf([quiet!, live!], { watchIdleMs: 1_500 }));
    expect(seen.map((s) => s.state)).toEqual(['running', 'passed']);
    expect(quiet!.watches).toBeGreaterThanOrEqual(1);
    expect(live!.watches).toBe(1);
  });

  it('leaves a stream that delivered progress and then went silent', async () => {
    const stalls: WatchScript = (call, node) => call.write({ summary: summary('running', 1), servedBy: node.id });
    const [stalled, live] = await startNodes(stalls, finishes);
    const seen = await follow(clientOf([stalled!, live!]));
    expect(seen.map((s) => `${s.state}:${s.counts.passed}`)).toEqual(['running:1', 'running:1', 'passed:2']);
  });

  it('survives a server that fails its stream with destroy(), which never sends the status', async () => {
    // The grpc-js trap the coordinators fell into: the status is sent from
    // the Writable's _final, which a destroyed stream never runs.
    const destroys: WatchScript = (call) => call.destroy(Object.assign(new Error('read failed'), { code: GrpcStatus.UNAVAILABLE }));
    const [broken, live] = await startNodes(destroys, finishes);
    const seen = await follow(clientOf([broken!, live!]));
    expect(seen.at(-1)?.state).toBe('passed');
  });

  it('stays on a stream kept alive by unchanged summaries, past watchIdleMs', async () => {
    const keepsAlive: WatchScript = (call, node) => {
      let sent = 0;
      const timer = setInterval(() => {
        sent++;
        call.write({ summary: summary(sent >= 8 ? 'passed' : 'running', sent >= 8 ? 2 : 1), servedBy: node.id });
        if (sent >= 8) {
          clearInterval(timer);
          call.end();
        }
      }, 100);
      call.on('cancelled', () => clearInterval(timer));
    };
    const [node] = await startNodes(keepsAlive);
    const seen = await follow(clientOf([node!], { watchIdleMs: 400 }));
    expect(seen).toHaveLength(8);
    expect(node!.watches).toBe(1);
  });

  it('gives up with DeadlineExceededError when no summary comes within totalTimeoutMs', async () => {
    const started = await startNodes(silent, silent);
    const error = await follow(clientOf(started, { watchIdleMs: 100, totalTimeoutMs: 600 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect((error as Error).message).toContain('no progress of run r-1');
    expect(started[0]!.watches + started[1]!.watches).toBeGreaterThanOrEqual(2);
  });

  it('goes to the leader a failed stream names, before any other endpoint', async () => {
    const [, , leader] = await startNodes(silent, silent, finishes);
    const redirects: WatchScript = (call) => failStream(call as never, { code: GrpcStatus.UNAVAILABLE, details: 'not the leader', metadata: hintMetadata('not-leader', leader!) });
    const [follower] = await startNodes(redirects);
    // The configured order puts two silent nodes between the follower and the leader.
    const client = clientOf([follower!, nodes[0]!, nodes[1]!]);
    const seen = await follow(client);
    expect(seen.at(-1)?.state).toBe('passed');
    expect(nodes[0]!.watches + nodes[1]!.watches).toBe(0);
    expect(client.preferredEndpoint).toBe(leader!.address);
  });
});

describe('failStream', () => {
  it('delivers the status and its metadata: a missing run is NotFoundError at once', async () => {
    const md = new Metadata();
    md.set('testudo-error', 'not-found');
    md.set('testudo-retryable', 'false');
    const [node] = await startNodes((call) => failStream(call as never, { code: GrpcStatus.NOT_FOUND, details: 'no run r-1', metadata: md }));
    const error = await follow(clientOf([node!])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(node!.watches).toBe(1);
  });
});
