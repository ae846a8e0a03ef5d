import { randomUUID } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import type { WorkerInfo__Output } from '../generated/testudo/v1/WorkerInfo.js';
import type { RunSubmission, RunSummary, RunView } from '../model/index.js';
import { assert, invalid, listLimitMax, requireId, requireKey, resolveClientOptions, timeoutMsMax, toBytes } from './args.js';
import { Connection } from './connection.js';
import { requireEndpoint } from './endpoints.js';
import { ClientClosedError } from './errors.js';
import { requireInteger } from './retry.js';
import { methods, type Methods } from './rpc.js';
import { saveSnapshot } from './snapshot-stream.js';
import { WriteBatcher } from './write-batcher.js';
import { runSummaryFromWire, watchRun } from './watch.js';
import type {
  AddMemberRequest,
  AddMemberResult,
  AdminOptions,
  ClusterStatus,
  DeleteResult,
  GetResult,
  KeyValue,
  ListAllOptions,
  ListOptions,
  ListResult,
  MemberStatus,
  PutResult,
  ReadOptions,
  RemoveMemberResult,
  RepairMemberResult,
  SavedSnapshot,
  TestudoClientOptions,
  TransferLeaderResult,
  WriteOptions,
  SubmitRunResult,
  WorkerInfo,
} from './types.js';

/**
 * A client of a Testudo cluster: the Kv, Cluster admin and Runs services,
 * with retries that follow the leader. A retryable error is tried again on
 * the leader it names (at once the first time), else on the next endpoint
 * after a backoff, up to `retry.attemptsMax` attempts and `totalTimeoutMs`
 * (the policy in full: src/client/connection.ts).
 *
 * Writes carry one idempotency key for all their attempts, so they may be
 * retried after any retryable error. Admin changes are retried only when the
 * request surely took no effect (see `surelyNotApplied`).
 */
export class TestudoClient {
  readonly clientId: string;
  readonly #conn: Connection;
  readonly #watchIdleMs: number;
  readonly #methods: Methods;
  readonly #batcher: WriteBatcher;
  #writesIssued = 0;

  constructor(options: TestudoClientOptions) {
    const resolved = resolveClientOptions(options);
    this.clientId = resolved.clientId;
    this.#watchIdleMs = resolved.watchIdleMs;
    this.#conn = new Connection(resolved.connection);
    this.#methods = methods();
    this.#batcher = new WriteBatcher(
      {
        one: async (put, startedAtMs) => {
          const response = await this.#conn.invoke('write', this.#methods.put, put, { startedAtMs });
          return { index: response.index, duplicate: response.duplicate };
        },
        many: async (puts, startedAtMs) => (await this.#conn.invoke('write', this.#methods.putMany, { puts: [...puts] }, { startedAtMs })).results,
      },
      resolved.batchWrites,
    );
  }

  /** Kv.PutMany calls this client made, and the puts they carried (see `batchWrites`). */
  get writeBatches(): { readonly calls: number; readonly writes: number } {
    return this.#batcher.batches;
  }

  /** The configured endpoints, validated and without duplicates. */
  get endpoints(): readonly string[] {
    return this.#conn.endpoints;
  }

  /** Where the next operation goes first: the last leader learned, else a configured endpoint. */
  get preferredEndpoint(): string {
    return this.#conn.preferred;
  }

  /** The last leader id a server reported, or ''. */
  get leaderId(): string {
    return this.#conn.leaderId;
  }

  /** Channels open now (at most `channelsMax`). */
  get channelCount(): number {
    return this.#conn.channelCount;
  }

  get closed(): boolean {
    return this.#conn.closed;
  }

  // -------------------------------------------------------------------- kv

  async put(key: string, value: Uint8Array | string, options?: WriteOptions): Promise<PutResult> {
    const request = { key: requireKey(key), value: toBytes(value), idempotencyKey: this.#idempotencyKey(options) };
    return await this.#batcher.put(request);
  }

  async delete(key: string, options?: WriteOptions): Promise<DeleteResult> {
    const request = { key: requireKey(key), idempotencyKey: this.#idempotencyKey(options) };
    const response = await this.#conn.invoke('write', this.#methods.delete, request);
    return { index: response.index, duplicate: response.duplicate, existed: response.existed };
  }

  async get(key: string, options?: ReadOptions): Promise<GetResult> {
    const request = { key: requireKey(key), stale: options?.stale === true };
    const response = await this.#conn.invoke('read', this.#methods.get, request);
    const { appliedIndex, servedBy } = response;
    if (!response.found) return { found: false, appliedIndex, servedBy };
    assert(response.item !== null, `${servedBy} answered found without an item`);
    return { found: true, value: response.item.value, modIndex: response.item.modIndex, appliedIndex, servedBy };
  }

  async list(options?: ListOptions): Promise<ListResult> {
    const limit = options?.limit ?? 0;
    requireInteger('limit', limit, 0, listLimitMax);
    const request = {
      prefix: options?.prefix ?? '',
      startAfter: options?.startAfter ?? '',
      limit,
      stale: options?.stale === true,
    };
    const response = await this.#conn.invoke('read', this.#methods.list, request);
    return { items: response.items, more: response.more, appliedIndex: response.appliedIndex, servedBy: response.servedBy };
  }

  /**
   * Every key under `prefix`, in pages of `pageSize`. Each page is its own
   * read: a scan is not one snapshot, and keys written meanwhile may or may
   * not appear.
   */
  async *listAll(options?: ListAllOptions): AsyncGenerator<KeyValue, void, undefined> {
    const pageSize = options?.pageSize ?? 1000;
    requireInteger('pageSize', pageSize, 1, listLimitMax);
    let startAfter = '';
    while (true) {
      const page = await this.list({ prefix: options?.prefix ?? '', startAfter, limit: pageSize, stale: options?.stale === true });
      assert(page.items.length <= pageSize, `${page.servedBy} returned ${page.items.length} items for limit ${pageSize}`);
      for (const item of page.items) {
        assert(item.key !== startAfter, `${page.servedBy} returned key ${item.key} again after it`);
        startAfter = item.key;
        yield item;
      }
      if (!page.more) return;
      // An empty page that says "more" would page forever.
      assert(page.items.length > 0, `${page.servedBy} returned an empty page with more=true`);
    }
  }

  // ---------------------------------------------------------- cluster admin

  async clusterStatus(): Promise<ClusterStatus> {
    return this.#conn.invoke('read', this.#methods.clusterStatus, {});
  }

  /**
   * The status of one node: `endpoint`, or the preferred endpoint. One
   * attempt, never sent elsewhere: the caller asked about that node.
   */
  async memberStatus(endpoint?: string): Promise<MemberStatus> {
    const target = endpoint === undefined ? this.#conn.preferred : requireEndpoint(endpoint);
    const outcome = await this.#conn.attempt('read', target, this.#methods.memberStatus, {}, Date.now() + this.#conn.callTimeoutMs);
    if (this.closed) throw new ClientClosedError(outcome.ok ? undefined : outcome.error);
    if (!outcome.ok) throw outcome.error;
    this.#conn.learnFromSuccess(outcome.trailers);
    return outcome.response;
  }

  async transferLeader(to: string, options?: AdminOptions): Promise<TransferLeaderResult> {
    const request = { to: requireId('to', to) };
    return this.#conn.invoke('admin', this.#methods.transferLeader, request, options);
  }

  async addMember(member: AddMemberRequest, options?: AdminOptions): Promise<AddMemberResult> {
    const request = {
      id: requireId('id', member.id),
      address: requireEndpoint(member.address),
      learnerOnly: member.learnerOnly === true,
    };
    return this.#conn.invoke('admin', this.#methods.addMember, request, options);
  }

  async removeMember(id: string, options?: AdminOptions): Promise<RemoveMemberResult> {
    const request = { id: requireId('id', id) };
    return this.#conn.invoke('admin', this.#methods.removeMember, request, options);
  }

  /** Has the leader reset a follower's replication progress (a follower whose log went back; docs/operations.md). */
  async repairMember(id: string, options?: AdminOptions): Promise<RepairMemberResult> {
    const request = { id: requireId('id', id) };
    return this.#conn.invoke('admin', this.#methods.repairMember, request, options);
  }

  /**
   * A linearizable point-in-time copy of the cluster's whole replicated state
   * (Cluster.SaveSnapshot), checked against the SHA-256 its server computed.
   * A stream that fails, arrives damaged, or stays silent for
   * `callTimeoutMs` is tried again on the leader a failure names, else on the
   * next endpoint, within `totalTimeoutMs` and `retry.attemptsMax`.
   */
  async saveSnapshot(options?: AdminOptions): Promise<SavedSnapshot> {
    const idleMs = options?.callTimeoutMs ?? this.#conn.callTimeoutMs;
    requireInteger('callTimeoutMs', idleMs, 1, timeoutMsMax);
    return saveSnapshot(this.#conn, this.#methods.saveSnapshot, idleMs);
  }

  // ------------------------------------------------------------------ runs

  /**
   * Submits a run. `runId` (default: a fresh random id) makes it safe to
   * retry: the same id is never started twice (`duplicate` says it existed).
   */
  async submitRun(submission: RunSubmission, options?: AdminOptions & { runId?: string }): Promise<SubmitRunResult> {
    const runId = options?.runId ?? `r-${randomUUID().slice(0, 13)}`;
    const request = { runId, submission: deflateRawSync(Buffer.from(JSON.stringify(submission))) };
    return this.#conn.invoke('write', this.#methods.submitRun, request, options);
  }

  /** The full view of a run (every task, attempt and result); linearizable unless `stale`. */
  async getRun(runId: string, options?: ReadOptions): Promise<RunView & { archived: boolean }> {
    const response = await this.#conn.invoke('read', this.#methods.getRun, { runId, stale: options?.stale === true });
    const run = JSON.parse(inflateRawSync(response.run, { maxOutputLength: 1024 * 1024 * 1024 }).toString('utf8')) as RunView;
    return { ...run, archived: response.archived };
  }

  async listRuns(options?: ReadOptions): Promise<RunSummary[]> {
    const response = await this.#conn.invoke('read', this.#methods.listRuns, { stale: options?.stale === true });
    return response.runs.map(runSummaryFromWire);
  }

  async cancelRun(runId: string, reason = ''): Promise<{ state: string; cancelledAttempts: number }> {
    return this.#conn.invoke('write', this.#methods.cancelRun, { runId, reason });
  }

  /**
   * Follows a run: yields its summary whenever it changes (and at each
   * server keepalive) and returns after the run ends; a run that does not
   * exist throws NotFoundError.
   *
   * Across failovers: a stream that fails, ends early, or stays silent for
   * `watchIdleMs` is reopened — on the leader a failure's hint names (at once
   * for the first redirect), else on the next endpoint after a backoff. The
   * watch gives up with DeadlineExceededError when no summary has arrived
   * for `totalTimeoutMs`, whatever the streams did meanwhile.
   */
  watchRun(runId: string): AsyncGenerator<RunSummary, void, undefined> {
    return watchRun(this.#conn, this.#methods.watchRun, runId, this.#watchIdleMs);
  }

  // --------------------------------------------------------------- workers

  async listWorkers(): Promise<WorkerInfo[]> {
    const response = await this.#conn.invoke('read', this.#methods.listWorkers, {});
    return response.workers.map(workerInfoFromWire);
  }

  /** Takes a worker out of scheduling (its running tasks finish), or puts it back with `undrain`. */
  async drainWorker(workerId: string, undrain = false): Promise<{ state: string }> {
    return this.#conn.invoke('write', this.#methods.drainWorker, { workerId, undrain });
  }

  /**
   * Closes a worker's circuit breaker (releases it from quarantine), or with
   * `mode` disables or re-enables the breaker. Returns the breaker's state.
   */
  async releaseWorker(workerId: string, options: { reason?: string; mode?: 'release' | 'disable' | 'enable' } = {}): Promise<{ breaker: string }> {
    const mode = options.mode ?? 'release';
    const request = { workerId, reason: options.reason ?? '', disable: mode === 'disable', enable: mode === 'enable' };
    return this.#conn.invoke('write', this.#methods.releaseWorker, request);
  }

  /**
   * Releases a lost worker's id from its session key, so that a rebuilt
   * machine can register under it (admin only). `wasBound` is false when the
   * id had no key. FAILED_PRECONDITION while the worker is not lost.
   */
  async forgetWorker(workerId: string, reason = ''): Promise<{ wasBound: boolean }> {
    return this.#conn.invoke('write', this.#methods.forgetWorker, { workerId, reason });
  }

  /**
   * The cluster's circuit-breaker settings; with `change`, sets those keys
   * first (validated by the state machine; every coordinator applies them).
   */
  async breakerConfig(change?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const request = { set: change === undefined ? '' : JSON.stringify(change) };
    const response = await this.#conn.invoke(change === undefined ? 'read' : 'write', this.#methods.breakerConfig, request);
    return JSON.parse(response.config) as Record<string, unknown>;
  }

  /** Close every channel and stop every backoff; later calls fail with ClientClosedError. */
  close(): void {
    this.#conn.close();
  }

  #idempotencyKey(options: WriteOptions | undefined): string {
    const key = options?.idempotencyKey;
    if (key === undefined) {
      this.#writesIssued += 1;
      return `${this.clientId}-${this.#writesIssued}`;
    }
    if (typeof key !== 'string' || key.length === 0) throw invalid('idempotencyKey must be a non-empty string');
    return key;
  }
}

/** A worker as the Runs service sends it: its state and service are the server's words for them (src/model/worker-record.ts). */
function workerInfoFromWire(wire: WorkerInfo__Output): WorkerInfo {
  return { ...wire, state: wire.state as WorkerInfo['state'], service: wire.service as WorkerInfo['service'] };
}
