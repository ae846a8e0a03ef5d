import * as grpc from '@grpc/grpc-js';
import type { RaftNode } from '../raft/index.js';
import { batchedPutsProblem, InvalidArgumentError, validateIdempotencyKey, validateKey, validateValue, type BatchedPut, type Command } from './codec.js';
import { ServiceError, leaderMetadata, toServiceError, type LeaderHint } from './grpc-errors.js';
import type { ApplyOk, ApplyResult, KvMachine } from './kv-machine.js';
import { listLimitDefault, listLimitMax, validateKeyBound } from './limits.js';
import type { ForwardMethod, ForwardRequest, ForwardResponse, ForwardService, PeerClients } from './peer-clients.js';
import { forwardedKey, principalOf, type Principal } from '../security/auth.js';
import { commitWithin, proposalTimeoutMs } from './propose.js';
import { entryFeatureLevel, featureLevel } from './feature-level.js';
import type { LeaderWait } from './leader-wait.js';
import { surelyNotSent } from '../client/errors.js';
import { tracer } from '../common/trace.js';

export { forwardedKey };

/** What the client-facing handlers need from the coordinator that hosts them. */
export interface ServiceHost {
  readonly nodeId: string;
  readonly node: RaftNode<ApplyResult>;
  readonly machine: KvMachine;
  readonly peers: PeerClients;
  /** The leader this node knows of, with its client address. */
  leaderHint(): LeaderHint;
  /** Wall clock for stamping commands (apply never reads it). */
  nowMs(): number;
  onRequest?(method: string, code: grpc.status): void;
  /** Holds calls that find no leader known until one is (leader-wait.ts); absent: they fail at once. */
  readonly leaderWait?: LeaderWait;
  /** The level the leader may write the log at (feature-level.ts); absent: this build's own. */
  clusterFeatureLevel?(): number;
}

export { proposalTimeoutMs };

/** What forwarding needs of its host: a ServiceHost is one (the narrow type lets a test build one around a real gRPC leader). */
export interface ForwardHost {
  readonly node: Pick<RaftNode<ApplyResult>, 'isLeader'>;
  readonly peers: Pick<PeerClients, 'forward'>;
  leaderHint(): LeaderHint;
  readonly leaderWait?: LeaderWait;
}

type Handler<Req, Res> = (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>;

/** Wraps a handler: errors become Testudo's error protocol, successes carry the leader hint. */
export function unary<Req, Res>(host: Pick<ServiceHost, 'leaderHint' | 'onRequest'>, method: string, handler: Handler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (response) => {
        host.onRequest?.(method, grpc.status.OK);
        callback(null, response, leaderMetadata(host.leaderHint()));
      },
      (error: unknown) => {
        const status = isRelayed(error) ? error.status : toServiceError(error, host.leaderHint());
        host.onRequest?.(method, status.code ?? grpc.status.UNKNOWN);
        callback(status);
      },
    );
  };
}

interface RelayedError {
  relayed: true;
  status: Partial<grpc.StatusObject>;
}

function isRelayed(error: unknown): error is RelayedError {
  return typeof error === 'object' && error !== null && (error as Partial<RelayedError>).relayed === true;
}

/**
 * Forwards of one client call, at most: the first, and one more when the
 * leader it went to could not be reached and another leader was reported
 * meanwhile (the old one was killed: its sockets closed).
 */
export const forwardAttemptsMax = 2;

/**
 * Services whose calls carry no idempotency key (the client's `admin` kind:
 * transfer, add, remove, repair): a forward of theirs that may have reached
 * the leader is never sent again, here or by the client (`forward-lost`).
 */
const sentOnceServices: ReadonlySet<ForwardService> = new Set<ForwardService>(['Cluster']);

/**
 * Runs `local` when this node leads, forwards the call to the leader when it
 * knows one (once: a forwarded call is never forwarded again), and otherwise
 * fails with a retryable no-leader error.
 *
 * `not-leader` and `no-leader` tell the client that nothing was applied, so
 * they are answered only while no forward of this call may have reached a
 * leader; after one that may have (sent, its answer lost), the answer is that
 * forward's `forward-lost` (LeaderUnreachableError).
 *
 * With `host.leaderWait`, a call that finds no leader known first waits for
 * one (at most an election timeout, never past the call's deadline, a bounded
 * number of calls at once, leader-wait.ts) and then goes on as if it had just
 * arrived; likewise a call whose forward could not reach the leader waits
 * for the next leader report and is forwarded again (forwardAttemptsMax).
 * Either way nothing more happens than the client's own retry would do: the
 * same request, with its idempotency key, sent once more.
 */
export async function onLeader<S extends ForwardService, M extends ForwardMethod<S>, Req extends ForwardRequest<S, M>, Res>(
  host: ForwardHost,
  call: grpc.ServerUnaryCall<Req, Res>,
  service: S,
  method: M,
  local: () => Promise<Res>,
): Promise<Res | ForwardResponse<S, M>> {
  let lost: LeaderUnreachableError | null = null;
  for (let forwards = 0; ; ) {
    if (!host.node.isLeader && host.leaderHint().leaderId === '') await host.leaderWait?.wait(remainingMs(call));
    if (host.node.isLeader) return local();
    const hint = host.leaderHint();
    if (hint.leaderId === '' || hint.leaderAddress === '' || call.metadata.get(forwardedKey).length > 0) throw lost ?? notForwarded(hint);
    try {
      // The caller was checked here (the auth interceptor); the leader trusts this node's peer credential to vouch for it.
      return await forwardOrRelay(host, hint.leaderAddress, service, method, call.request, remainingMs(call), principalOf(call.metadata));
    } catch (error) {
      forwards++;
      if (!forwardsAgain(host, service, error, forwards)) throw lost !== null && provesNothingApplied(error) ? lost : error;
      if (error.maybeApplied) lost = error;
      await host.leaderWait?.wait(remainingMs(call));
    }
  }
}

/** The refusal of a call this node neither runs nor forwards: nothing was sent anywhere. */
function notForwarded(hint: LeaderHint): ServiceError {
  return hint.leaderId === ''
    ? new ServiceError(grpc.status.UNAVAILABLE, 'no-leader', true, 'no leader is known; an election may be in progress')
    : new ServiceError(grpc.status.UNAVAILABLE, 'not-leader', true, `not the leader; the leader is ${hint.leaderId}`);
}

/** Whether a failed forward is sent once more, after the next leader report (see onLeader). */
function forwardsAgain(host: ForwardHost, service: ForwardService, error: unknown, forwards: number): error is LeaderUnreachableError {
  if (!(error instanceof LeaderUnreachableError) || !error.connectionLost) return false;
  if (host.leaderWait === undefined || forwards >= forwardAttemptsMax) return false;
  return !error.maybeApplied || !sentOnceServices.has(service);
}

/** A refusal that says nothing was applied: `not-leader` / `no-leader`, this node's or relayed from the leader. */
function provesNothingApplied(error: unknown): boolean {
  const code = isRelayed(error) ? metadataText(error.status.metadata, 'testudo-error') : error instanceof ServiceError ? error.code : '';
  return code === 'not-leader' || code === 'no-leader';
}

function metadataText(metadata: grpc.Metadata | undefined, key: string): string {
  const value = metadata?.get(key)[0];
  return typeof value === 'string' ? value : '';
}

/**
 * A forward to the leader failed with no answer from it (it is down, or the
 * link is); retryable. When gRPC proves the request never left this node (no
 * connection, stream refused) it is `not-leader`: nothing was applied. Else
 * the request may have reached the leader and been applied there, its answer
 * lost on the way back: `forward-lost`, which a client resends only with an
 * idempotency key (docs/protocol.md, "Errors").
 */
export class LeaderUnreachableError extends ServiceError {
  readonly address: string;
  /** The forward may have reached the leader: the call may have been applied there. */
  readonly maybeApplied: boolean;
  /** gRPC said UNAVAILABLE: the connection to the leader is gone (it was killed, or the link broke), so a new one may be elected. */
  readonly connectionLost: boolean;

  constructor(address: string, cause: Partial<grpc.StatusObject> & Error) {
    const grpcCode = cause.code ?? grpc.status.UNKNOWN;
    const maybeApplied = !surelyNotSent(grpcCode, cause.details ?? '');
    const message = maybeApplied
      ? `forwarded to ${address}, whose answer was lost (the leader may have applied it): ${cause.message}`
      : `could not forward to ${address}: ${cause.message}`;
    super(grpc.status.UNAVAILABLE, maybeApplied ? 'forward-lost' : 'not-leader', true, message, { cause });
    this.address = address;
    this.maybeApplied = maybeApplied;
    this.connectionLost = grpcCode === grpc.status.UNAVAILABLE;
  }
}

/**
 * Calls another coordinator on behalf of a client. Its Testudo errors reach
 * the client unchanged (status, message, leader hint); any other failure is a
 * LeaderUnreachableError (`not-leader` when the request surely was not sent,
 * `forward-lost` otherwise).
 */
export async function forwardOrRelay<S extends ForwardService, M extends ForwardMethod<S>>(
  host: Pick<ForwardHost, 'peers'>,
  address: string,
  service: S,
  method: M,
  request: ForwardRequest<S, M>,
  timeoutMs: number,
  onBehalfOf: Principal | null,
): Promise<ForwardResponse<S, M>> {
  try {
    return await host.peers.forward(address, service, method, request, timeoutMs, onBehalfOf);
  } catch (error) {
    const status = (error instanceof Error ? error : new Error(String(error))) as Partial<grpc.StatusObject> & Error;
    if (typeof status.code === 'number' && status.metadata instanceof grpc.Metadata && status.metadata.get('testudo-error').length > 0) {
      throw { relayed: true, status: { code: status.code, details: status.details, metadata: status.metadata } } satisfies RelayedError;
    }
    throw new LeaderUnreachableError(address, status);
  }
}

/** Milliseconds left before the caller's deadline, at most `capMs` (also the default without a deadline). */
export function remainingMs<Req, Res>(call: grpc.ServerUnaryCall<Req, Res>, capMs = proposalTimeoutMs): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at) || at <= 0) return capMs;
  return Math.max(1, Math.min(capMs, at - Date.now()));
}

// ---------------------------------------------------------------- Kv service

interface PutRequest {
  key: string;
  value: Buffer;
  idempotencyKey: string;
}
interface PutManyRequest {
  puts: PutRequest[];
}
interface DeleteRequest {
  key: string;
  idempotencyKey: string;
}
interface GetRequest {
  key: string;
  stale: boolean;
}
interface ListRequest {
  prefix: string;
  startAfter: string;
  limit: number;
  stale: boolean;
}

/** Waits until a read may be served here: linearizable through ReadIndex unless `stale`. */
async function readBarrier(host: ServiceHost, stale: boolean): Promise<void> {
  if (!stale) await host.node.readIndex();
}

/** A PutMany's writes, checked as the batch command will be (the call is refused whole, naming the first bad write). */
function batchedPuts(puts: readonly PutRequest[]): BatchedPut[] {
  const batch = puts.map((put) => ({ key: put.key, value: put.value, idempotencyKey: put.idempotencyKey }));
  const problem = batchedPutsProblem(batch, 'puts');
  if (problem !== null) throw new InvalidArgumentError(problem[0], problem[1]);
  return batch;
}

/** A committed write's answer: its index, and whether it was a duplicate (a no-op entry never is). */
function written(result: ApplyOk): { index: number; duplicate: boolean } {
  return { index: result.index, duplicate: result.kind === 'noop' ? false : result.duplicate };
}

/**
 * A PutMany's writes as one `put` entry each, proposed together, for a
 * cluster with a member that cannot apply a `put_batch` entry (an older
 * build; feature-level.ts). The answer is the batch's: each write's index or
 * duplicate, or its refusal alone (a key first used for a delete).
 */
async function putsAlone(host: ServiceHost, puts: readonly BatchedPut[], timeoutMs: number): Promise<{ index: number; duplicate: boolean; error: string }[]> {
  const proposedAtMs = host.nowMs();
  return Promise.all(
    puts.map(async (put) => {
      const command: Command = { idempotencyKey: put.idempotencyKey, proposedAtMs, op: { type: 'put', key: put.key, value: put.value } };
      try {
        const result = await commitWithin(host.node, command, timeoutMs);
        return { ...written(result), error: '' };
      } catch (error) {
        if (error instanceof InvalidArgumentError) return { index: 0, duplicate: false, error: error.reason };
        throw error;
      }
    }),
  );
}

export function kvHandlers(host: ServiceHost): grpc.UntypedServiceImplementation {
  return {
    Put: unary<PutRequest, unknown>(host, 'Put', async (req, call) => {
      validateKey(req.key);
      validateValue(req.value);
      validateIdempotencyKey(req.idempotencyKey);
      return onLeader(host, call, 'Kv', 'Put', async () => {
        tracer?.event('kv.put', `key=${req.key}`);
        const command: Command = { idempotencyKey: req.idempotencyKey, proposedAtMs: host.nowMs(), op: { type: 'put', key: req.key, value: req.value } };
        const result = await commitWithin(host.node, command, remainingMs(call));
        tracer?.event('kv.reply', `key=${req.key}`);
        return written(result);
      });
    }),
    PutMany: unary<PutManyRequest, unknown>(host, 'PutMany', async (req, call) => {
      const puts = batchedPuts(req.puts);
      return onLeader(host, call, 'Kv', 'PutMany', async () => {
        tracer?.event('kv.putmany', `writes=${puts.length}`);
        if ((host.clusterFeatureLevel?.() ?? featureLevel) < entryFeatureLevel.putBatch) return { results: await putsAlone(host, puts, remainingMs(call)) };
        const command: Command = { idempotencyKey: '', proposedAtMs: host.nowMs(), op: { type: 'put-batch', puts } };
        const result = await commitWithin(host.node, command, remainingMs(call));
        if (result.kind !== 'put-batch') throw new Error(`a put batch was applied as a ${result.kind}`);
        return { results: result.results.map((r) => (r.ok ? { index: r.index, duplicate: r.duplicate, error: '' } : { index: 0, duplicate: false, error: r.message })) };
      });
    }),
    Delete: unary<DeleteRequest, unknown>(host, 'Delete', async (req, call) => {
      validateKey(req.key);
      validateIdempotencyKey(req.idempotencyKey);
      return onLeader(host, call, 'Kv', 'Delete', async () => {
        const command: Command = { idempotencyKey: req.idempotencyKey, proposedAtMs: host.nowMs(), op: { type: 'delete', key: req.key } };
        const result = await commitWithin(host.node, command, remainingMs(call));
        return { ...written(result), existed: result.kind === 'delete' ? result.existed : false };
      });
    }),
    Get: unary<GetRequest, unknown>(host, 'Get', async (req) => {
      validateKey(req.key);
      await readBarrier(host, req.stale);
      const item = host.machine.get(req.key);
      return {
        found: item !== undefined,
        item: item === undefined ? null : { key: req.key, value: item.value, modIndex: item.modIndex },
        appliedIndex: host.node.appliedIndex,
        servedBy: host.nodeId,
      };
    }),
    List: unary<ListRequest, unknown>(host, 'List', async (req) => {
      const limit = req.limit === 0 ? listLimitDefault : req.limit;
      if (limit > listLimitMax) throw new InvalidArgumentError('limit', `must be at most ${listLimitMax}, got ${limit}`);
      validateKeyBound(req.prefix, 'prefix');
      validateKeyBound(req.startAfter, 'start_after');
      await readBarrier(host, req.stale);
      const page = host.machine.list({ prefix: req.prefix, startAfter: req.startAfter, limit });
      return {
        items: page.items.map((item) => ({ key: item.key, value: item.value, modIndex: item.modIndex })),
        more: page.more,
        appliedIndex: host.node.appliedIndex,
        servedBy: host.nodeId,
      };
    }),
  };
}
