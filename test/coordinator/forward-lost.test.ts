// A follower forwards a client's call to the leader and the leader's answer is
// lost on the way back (the link drops after the request went through): the
// leader may have applied it. An admin change (no idempotency key) must then
// be sent neither again by the follower nor by the client; a write (with its
// key) may be. Real gRPC end to end: a TestudoClient, a follower serving
// services.ts onLeader with a real PeerClients and LeaderWait, a TCP link
// that can be cut, and a leader that counts what it applied.
import { createServer, Socket, type Server as NetServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ForwardLostError, NotLeaderError, RetriesExhaustedError, TestudoClient } from '../../src/client/index.js';
import { testudoServices } from '../../src/common/testudo-proto.js';
import { LeaderWait } from '../../src/coordinator/leader-wait.js';
import { PeerClients } from '../../src/coordinator/peer-clients.js';
import { onLeader, unary, type ForwardHost } from '../../src/coordinator/services.js';
import type { AddMemberRequest__Output } from '../../src/generated/testudo/v1/AddMemberRequest.js';
import type { AddMemberResponse } from '../../src/generated/testudo/v1/AddMemberResponse.js';
import type { PutRequest__Output } from '../../src/generated/testudo/v1/PutRequest.js';
import type { PutResponse } from '../../src/generated/testudo/v1/PutResponse.js';

const messageBytesMax = 4 * 1024 * 1024;

/** A TCP link to `target` that passes bytes both ways until `cutNext` arms it: then it cuts every connection open at the next request. */
class Link {
  readonly sockets = new Set<Socket>();
  private constructor(
    private readonly server: NetServer,
    readonly address: string,
  ) {}

  static async open(target: number): Promise<Link> {
    const server = createServer();
    const link = await new Promise<Link>((resolve) => {
      server.listen(0, '127.0.0.1', () => {
        const port = (server.address() as { port: number }).port;
        resolve(new Link(server, `127.0.0.1:${port}`));
      });
    });
    server.on('connection', (inbound) => link.join(inbound, target));
    return link;
  }

  /** Drops every open connection now: what was sent arrived, what the leader answers does not. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private join(inbound: Socket, target: number): void {
    const outbound = new Socket();
    outbound.connect(target, '127.0.0.1');
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      this.sockets.add(from);
      from.on('data', (chunk: Buffer) => to.write(chunk));
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
    }
  }
}

async function listen(server: grpc.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error === null ? resolve(port) : reject(error)));
  });
}

/** The leader: applies each AddMember and Put it receives, and cuts the link before its next `dropAnswers` answers. */
interface Leader {
  readonly applied: { AddMember: number; Put: number };
  dropAnswers: number;
}

let leaderServer: grpc.Server;
let followerServers: grpc.Server[];
let link: Link;
let peers: PeerClients;
let client: TestudoClient;
/** Talks to a follower that does not hold calls (no LeaderWait): the client alone decides what is resent. */
let plainClient: TestudoClient;
/** One attempt per operation: a retryable error comes back as RetriesExhaustedError, any other as itself. */
let onceClient: TestudoClient;
const leader: Leader = { applied: { AddMember: 0, Put: 0 }, dropAnswers: 0 };

function answer<Res>(callback: grpc.sendUnaryData<Res>, response: Res): void {
  if (leader.dropAnswers > 0) {
    leader.dropAnswers--;
    link.cut();
  }
  // The answer is written after the cut: it reaches no one.
  setImmediate(() => callback(null, response));
}

beforeAll(async () => {
  const services = testudoServices();
  leaderServer = new grpc.Server();
  leaderServer.addService(services.Cluster.service, {
    AddMember: (call: grpc.ServerUnaryCall<AddMemberRequest__Output, AddMemberResponse>, callback: grpc.sendUnaryData<AddMemberResponse>) => {
      leader.applied.AddMember++;
      answer(callback, { members: [{ id: call.request.id, address: call.request.address, kind: 'learner' }] });
    },
  });
  leaderServer.addService(services.Kv.service, {
    Put: (_call: grpc.ServerUnaryCall<PutRequest__Output, PutResponse>, callback: grpc.sendUnaryData<PutResponse>) => {
      leader.applied.Put++;
      answer(callback, { index: 7, duplicate: leader.applied.Put > 1 });
    },
  });
  link = await Link.open(await listen(leaderServer));

  peers = new PeerClients(messageBytesMax);
  const follower = await startFollower(new LeaderWait({ holdMs: 50 }));
  const plainFollower = await startFollower(undefined);
  followerServers = [follower.server, plainFollower.server];
  client = new TestudoClient({ endpoints: [follower.address], retry: { backoffBaseMs: 1, backoffMaxMs: 5 }, totalTimeoutMs: 10_000 });
  plainClient = new TestudoClient({ endpoints: [plainFollower.address], retry: { backoffBaseMs: 1, backoffMaxMs: 5 }, totalTimeoutMs: 10_000 });
  onceClient = new TestudoClient({ endpoints: [follower.address], retry: { attemptsMax: 1 }, totalTimeoutMs: 10_000 });
});

/** A follower that knows n1 (behind the link) as leader and forwards AddMember and Put there; with `leaderWait`, as coordinators run. */
async function startFollower(leaderWait: LeaderWait | undefined): Promise<{ server: grpc.Server; address: string }> {
  const services = testudoServices();
  const host: ForwardHost = { node: { isLeader: false }, peers, leaderHint: () => ({ leaderId: 'n1', leaderAddress: link.address }), leaderWait };
  const notHere = (): Promise<never> => Promise.reject(new Error('the follower never runs the call itself'));
  const server = new grpc.Server();
  server.addService(services.Cluster.service, {
    AddMember: unary<AddMemberRequest__Output, AddMemberResponse>(host, 'AddMember', (_req, call) => onLeader(host, call, 'Cluster', 'AddMember', notHere)),
  });
  server.addService(services.Kv.service, {
    Put: unary<PutRequest__Output, PutResponse>(host, 'Put', (_req, call) => onLeader(host, call, 'Kv', 'Put', notHere)),
  });
  return { server, address: `127.0.0.1:${await listen(server)}` };
}

afterAll(async () => {
  client.close();
  plainClient.close();
  onceClient.close();
  peers.close();
  await link.close();
  for (const server of followerServers) server.forceShutdown();
  leaderServer.forceShutdown();
});

beforeEach(() => {
  leader.applied.AddMember = 0;
  leader.applied.Put = 0;
  leader.dropAnswers = 0;
});

describe('a forward whose answer is lost', () => {
  it('an admin change the leader applied is sent once: the client gets forward-lost, not a redirect it would follow', async () => {
    leader.dropAnswers = 1;
    const error = await rejection(client.addMember({ id: 'n9', address: '127.0.0.1:7009', learnerOnly: true }));
    expect(error).toBeInstanceOf(ForwardLostError);
    expect(error).not.toBeInstanceOf(NotLeaderError);
    expect(error).toMatchObject({ code: 'forward-lost', retryable: true, beforeSend: false });
    expect(leader.applied.AddMember).toBe(1);
  });

  it('from a follower that does not forward again, the client does not resend it either', async () => {
    leader.dropAnswers = 1;
    const error = await rejection(plainClient.addMember({ id: 'n9', address: '127.0.0.1:7009', learnerOnly: true }));
    expect(error).toBeInstanceOf(ForwardLostError);
    expect(leader.applied.AddMember).toBe(1);
  });

  it('a write is forwarded again with its idempotency key and succeeds', async () => {
    leader.dropAnswers = 1;
    expect(await client.put('k', 'v')).toMatchObject({ index: 7, duplicate: true });
    expect(leader.applied.Put).toBe(2);
  });

  it('an admin change whose forward surely never left the follower is answered not-leader, which the client may retry', async () => {
    await link.close();
    const error = await rejection(onceClient.addMember({ id: 'n9', address: '127.0.0.1:7009', learnerOnly: true }));
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).cause).toBeInstanceOf(NotLeaderError);
    expect(leader.applied.AddMember).toBe(0);
  });
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => null,
    (error: unknown) => error,
  );
}
