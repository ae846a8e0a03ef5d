// A real gRPC server implementing testudo.v1.Kv and testudo.v1.Cluster with
// scripted answers, so client tests exercise the wire protocol end to end.
import { createServer } from 'node:net';
import {
  Metadata,
  Server,
  ServerCredentials,
  status as GrpcStatus,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoLoaderOptions, protoPath } from '../../src/common/protos.js';

export type MethodName =
  | 'Put'
  | 'Delete'
  | 'Get'
  | 'List'
  | 'Status'
  | 'MemberStatus'
  | 'TransferLeader'
  | 'AddMember'
  | 'RemoveMember';

const KV_METHODS: MethodName[] = ['Put', 'Delete', 'Get', 'List'];
const CLUSTER_METHODS: MethodName[] = ['Status', 'MemberStatus', 'TransferLeader', 'AddMember', 'RemoveMember'];

export interface Received {
  node: string;
  method: MethodName;
  // Decoded request, camelCase fields as proto-loader gives them.
  request: Record<string, unknown>;
}

export interface ErrorReply {
  code: GrpcStatus;
  details?: string;
  /** testudo-error; omitted: a bare gRPC status with no testudo metadata. */
  testudoError?: string;
  retryable?: boolean;
  leaderId?: string;
  leaderAddress?: string;
}

export type Reply =
  | { ok: Record<string, unknown>; leaderId?: string; leaderAddress?: string }
  | { error: ErrorReply }
  | { hang: true };

export type Script = (method: MethodName, request: Record<string, unknown>, node: FakeNode) => Reply;

let definitions: { kv: ServiceDefinition; cluster: ServiceDefinition } | undefined;

function services(): { kv: ServiceDefinition; cluster: ServiceDefinition } {
  if (definitions === undefined) {
    const loaded = loadSync(protoPath('testudo.proto'), protoLoaderOptions);
    definitions = {
      kv: loaded['testudo.v1.Kv'] as ServiceDefinition,
      cluster: loaded['testudo.v1.Cluster'] as ServiceDefinition,
    };
  }
  return definitions;
}

export class FakeNode {
  readonly received: Received[] = [];
  #waiters: (() => void)[] = [];

  private constructor(
    readonly id: string,
    readonly address: string,
    public script: Script,
    private readonly server: Server,
    private readonly log: Received[],
  ) {}

  /** Start a node on 127.0.0.1, port 0. `log` collects requests across nodes, in order. */
  static async start(id: string, script: Script, log: Received[] = []): Promise<FakeNode> {
    const server = new Server();
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) => {
        if (error) reject(error);
        else resolve(bound);
      });
    });
    const node = new FakeNode(id, `127.0.0.1:${port}`, script, server, log);
    server.addService(services().kv, node.#handlers(KV_METHODS));
    server.addService(services().cluster, node.#handlers(CLUSTER_METHODS));
    return node;
  }

  count(method: MethodName): number {
    return this.received.filter((r) => r.method === method).length;
  }

  /** Resolves once the node has received `n` requests in all. */
  receivedAtLeast(n: number): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.received.length >= n) resolve();
        else this.#waiters.push(check);
      };
      this.#waiters.push(check);
    });
  }

  stop(): void {
    this.server.forceShutdown();
  }

  #handlers(methods: MethodName[]): UntypedServiceImplementation {
    const handlers: UntypedServiceImplementation = {};
    for (const method of methods) {
      handlers[method] = (call: ServerUnaryCall<Record<string, unknown>, unknown>, callback: sendUnaryData<unknown>) => {
        const record = { node: this.id, method, request: call.request };
        this.received.push(record);
        this.log.push(record);
        const waiters = this.#waiters;
        this.#waiters = [];
        for (const waiter of waiters) waiter();
        answer(this.script(method, call.request, this), callback);
      };
    }
    return handlers;
  }
}

function answer(reply: Reply, callback: sendUnaryData<unknown>): void {
  if ('hang' in reply) return; // forceShutdown in afterEach ends the call
  const trailers = new Metadata();
  if ('ok' in reply) {
    if (reply.leaderId !== undefined) trailers.set('testudo-leader-id', reply.leaderId);
    if (reply.leaderAddress !== undefined) trailers.set('testudo-leader-address', reply.leaderAddress);
    callback(null, reply.ok, trailers);
    return;
  }
  const e = reply.error;
  if (e.testudoError !== undefined) {
    trailers.set('testudo-error', e.testudoError);
    trailers.set('testudo-retryable', String(e.retryable ?? false));
    trailers.set('testudo-leader-id', e.leaderId ?? '');
    trailers.set('testudo-leader-address', e.leaderAddress ?? '');
  }
  callback({ code: e.code, details: e.details ?? e.testudoError ?? 'scripted failure', metadata: trailers }, null);
}

// ------------------------------------------------------------------ replies

export function ok(response: Record<string, unknown>, leader?: { id: string; address: string }): Reply {
  return leader === undefined ? { ok: response } : { ok: response, leaderId: leader.id, leaderAddress: leader.address };
}

export function notLeader(leader?: FakeNode): Reply {
  return {
    error: {
      code: GrpcStatus.UNAVAILABLE,
      testudoError: 'not-leader',
      retryable: true,
      leaderId: leader?.id ?? '',
      leaderAddress: leader?.address ?? '',
    },
  };
}

export function noLeader(): Reply {
  return { error: { code: GrpcStatus.UNAVAILABLE, testudoError: 'no-leader', retryable: true } };
}

export function failure(code: GrpcStatus, testudoError?: string, retryable = false): Reply {
  return testudoError === undefined ? { error: { code } } : { error: { code, testudoError, retryable } };
}

/** A port that was bound and closed again: connecting to it is refused. */
export async function deadEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  return `127.0.0.1:${address.port}`;
}

/** A plausible answer per method, for scripts that only care about routing. */
export function defaultAnswer(method: MethodName, node: FakeNode): Reply {
  switch (method) {
    case 'Put':
      return ok({ index: 7, duplicate: false });
    case 'Delete':
      return ok({ index: 8, duplicate: false, existed: true });
    case 'Get':
      return ok({ found: false, appliedIndex: 9, servedBy: node.id });
    case 'List':
      return ok({ items: [], more: false, appliedIndex: 9, servedBy: node.id });
    case 'Status':
      return ok({ members: [], leaderId: node.id, term: 3, servedBy: node.id });
    case 'MemberStatus':
      return ok({ id: node.id, address: node.address, role: 'leader', term: 3, reachable: true });
    case 'TransferLeader':
      return ok({ leaderId: 'x', term: 4 });
    case 'AddMember':
      return ok({ members: [{ id: 'n4', address: '127.0.0.1:7004', kind: 'learner' }], promoted: false });
    case 'RemoveMember':
      return ok({ members: [] });
  }
}
