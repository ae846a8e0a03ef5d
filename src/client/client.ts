import { randomUUID } from 'node:crypto';
import { AddressRoutes } from './routes.js';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { connectivityState, Metadata as MetadataClass, type ChannelCredentials, type Client, type Metadata } from '@grpc/grpc-js';
import type { RunSubmission, RunSummary, RunView } from '../model/index.js';
import { endpointsMax, isEndpoint, requireEndpoint, requireEndpoints } from './endpoints.js';
import {
  ClientClosedError,
  DeadlineExceededError,
  InvalidArgumentError,
  LEADER_ADDRESS_KEY,
  LEADER_ID_KEY,
  RetriesExhaustedError,
  TestudoError,
  UnavailableError,
  errorFromStatus,
  metadataString,
} from './errors.js';
import {
  backoffDelayMs,
  requireInteger,
  resolveRetryOptions,
  shouldRetry,
  wantsBackoff,
  type CallKind,
  type ResolvedRetryOptions,
} from './retry.js';
import { authorizationKey, bearer, tokenProblem } from '../security/auth-token.js';
import { callUnary, methods, openChannel, type Methods, type UnaryMethod, type UnaryOutcome } from './rpc.js';
import { readSnapshotStream } from './snapshot-stream.js';
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

interface RawSummary {
  runId: string;
  name: string;
  state: string;
  submittedAtMs: number;
  finishedAtMs: number;
  counts: RunSummary['counts'] | null;
  degraded?: boolean;
}

function fromRawSummary(raw: RawSummary): RunSummary {
  const counts = raw.counts ?? { tasks: 0, queued: 0, running: 0, passed: 0, failed: 0, cancelled: 0, failedInfra: 0 };
  return {
    runId: raw.runId,
    name: raw.name,
    state: raw.state as RunSummary['state'],
    submittedAtMs: raw.submittedAtMs,
    finishedAtMs: raw.finishedAtMs,
    counts,
    degraded: raw.degraded === true,
  };
}

export const CLIENT_DEFAULTS = {
  callTimeoutMs: 5_000,
  totalTimeoutMs: 30_000,
  watchIdleMs: 5_000,
  messageBytesMax: 16 * 1024 * 1024,
} as const;

/** grpc-js keeps message lengths in an int32. */
export const messageBytesMaxLimit = 2 ** 31 - 1;
/** The server's own bound on one List page (see ListRequest.limit). */
export const listLimitMax = 10_000;
/** Generated idempotency keys are `${clientId}-${n}`; keep them short. */
export const clientIdLengthMax = 128;
const timeoutMsMax = 24 * 3_600_000;
/**
 * Open channels: the configured endpoints plus addresses learned from leader
 * hints or named to memberStatus. Past this, the oldest learned one closes.
 */
export const channelsMax = endpointsMax * 2;

/** How one watch stream stopped: the run ended, or why not (and when it last delivered, 0 for never). */
type WatchStreamOutcome = { readonly ended: true; readonly heardAtMs: number } | { readonly ended: false; readonly heardAtMs: number; readonly error: TestudoError };

interface GetResponseWire {
  found: boolean;
  item: KeyValue | null;
  appliedIndex: number;
  servedBy: string;
}

/**
 * A client of a Testudo cluster: the Kv service and the Cluster admin
 * service, with retries that follow the leader.
 *
 * Retry policy, per operation:
 * - A retryable error carrying `testudo-leader-address` sends the next attempt
 *   there — at once the first time the operation is sent to that leader (a
 *   leader just elected is tried without waiting), after a backoff when a hint
 *   names a leader it was already sent to (nodes that point at each other
 *   must not spin).
 * - Any other retryable error moves to the next endpoint after exponential
 *   backoff with full jitter; an overloaded leader is retried in place.
 * - Attempts stop at `retry.attemptsMax` (RetriesExhaustedError) or at
 *   `totalTimeoutMs` (DeadlineExceededError), whichever comes first.
 * - Writes carry one idempotency key for all their attempts, so they may be
 *   retried after any retryable error. Admin changes are retried only when the
 *   request surely took no effect (see `surelyNotApplied`).
 *
 * Every answer's trailing `testudo-leader-address`, successes included, moves
 * the preferred endpoint, which every operation tries first.
 */
export class TestudoClient {
  readonly clientId: string;
  readonly #endpoints: readonly string[];
  readonly #callTimeoutMs: number;
  readonly #totalTimeoutMs: number;
  readonly #watchIdleMs: number;
  readonly #retry: ResolvedRetryOptions;
  readonly #messageBytesMax: number;
  readonly #routes: AddressRoutes;
  readonly #credentials: ChannelCredentials | undefined;
  readonly #methods: Methods;
  readonly #channels = new Map<string, Client>();
  readonly #closing = new AbortController();
  /** Sent with every call; `authorization` when a token was given. */
  readonly #callMetadata: Metadata;
  #preferred: string;
  #leaderId = '';
  #writesIssued = 0;

  constructor(options: TestudoClientOptions) {
    this.#endpoints = requireEndpoints(options.endpoints);
    this.#callTimeoutMs = options.callTimeoutMs ?? CLIENT_DEFAULTS.callTimeoutMs;
    this.#totalTimeoutMs = options.totalTimeoutMs ?? CLIENT_DEFAULTS.totalTimeoutMs;
    this.#messageBytesMax = options.messageBytesMax ?? CLIENT_DEFAULTS.messageBytesMax;
    this.#watchIdleMs = options.watchIdleMs ?? CLIENT_DEFAULTS.watchIdleMs;
    this.#routes = options.routes ?? AddressRoutes.none;
    this.#credentials = options.credentials;
    this.#callMetadata = callMetadataFor(options.token);
    requireInteger('callTimeoutMs', this.#callTimeoutMs, 1, timeoutMsMax);
    requireInteger('totalTimeoutMs', this.#totalTimeoutMs, 1, timeoutMsMax);
    requireInteger('watchIdleMs', this.#watchIdleMs, 1, timeoutMsMax);
    requireInteger('messageBytesMax', this.#messageBytesMax, 1024, messageBytesMaxLimit);
    this.#retry = resolveRetryOptions(options.retry);
    const clientId = options.clientId ?? randomUUID();
    if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > clientIdLengthMax) {
      throw invalid(`clientId must be a string of 1..${clientIdLengthMax} characters`);
    }
    this.clientId = clientId;
    this.#preferred = first(this.#endpoints);
    // Every operation in backoff listens for close(); there is one per caller.
    setMaxListeners(0, this.#closing.signal);
    this.#methods = methods();
  }

  /** The configured endpoints, validated and without duplicates. */
  get endpoints(): readonly string[] {
    return this.#endpoints;
  }

  /** Where the next operation goes first: the last leader learned, else a configured endpoint. */
  get preferredEndpoint(): string {
    return this.#preferred;
  }

  /** The last leader id a server reported, or ''. */
  get leaderId(): string {
    return this.#leaderId;
  }

  /** Channels open now (at most `channelsMax`). */
  get channelCount(): number {
    return this.#channels.size;
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  async put(key: string, value: Uint8Array | string, options?: WriteOptions): Promise<PutResult> {
    const request = { key: requireKey(key), value: toBytes(value), idempotencyKey: this.#idempotencyKey(options) };
    const response = (await this.#invoke('write', this.#methods.put, request)) as PutResult;
    return { index: response.index, duplicate: response.duplicate };
  }

  async delete(key: string, options?: WriteOptions): Promise<DeleteResult> {
    const request = { key: requireKey(key), idempotencyKey: this.#idempotencyKey(options) };
    const response = (await this.#invoke('write', this.#methods.delete, request)) as DeleteResult;
    return { index: response.index, duplicate: response.duplicate, existed: response.existed };
  }

  async get(key: string, options?: ReadOptions): Promise<GetResult> {
    const request = { key: requireKey(key), stale: options?.stale === true };
    const response = (await this.#invoke('read', this.#methods.get, request)) as GetResponseWire;
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
    const response = (await this.#invoke('read', this.#methods.list, request)) as ListResult;
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

  async clusterStatus(): Promise<ClusterStatus> {
    return (await this.#invoke('read', this.#methods.clusterStatus, {})) as ClusterStatus;
  }

  /**
   * The status of one node: `endpoint`, or the preferred endpoint. One
   * attempt, never sent elsewhere: the caller asked about that node.
   */
  async memberStatus(endpoint?: string): Promise<MemberStatus> {
    const target = endpoint === undefined ? this.#preferred : requireEndpoint(endpoint);
    const outcome = await this.#attempt('read', target, this.#methods.memberStatus, {}, Date.now() + this.#callTimeoutMs);
    if (this.closed) throw new ClientClosedError(outcome.ok ? undefined : outcome.error);
    if (!outcome.ok) throw outcome.error;
    this.#learnFromSuccess(outcome.trailers);
    return outcome.response as MemberStatus;
  }

  async transferLeader(to: string, options?: AdminOptions): Promise<TransferLeaderResult> {
    const request = { to: requireId('to', to) };
    return (await this.#invoke('admin', this.#methods.transferLeader, request, options)) as TransferLeaderResult;
  }

  async addMember(member: AddMemberRequest, options?: AdminOptions): Promise<AddMemberResult> {
    const request = {
      id: requireId('id', member.id),
      address: requireEndpoint(member.address),
      learnerOnly: member.learnerOnly === true,
    };
    return (await this.#invoke('admin', this.#methods.addMember, request, options)) as AddMemberResult;
  }

  async removeMember(id: string, options?: AdminOptions): Promise<RemoveMemberResult> {
    const request = { id: requireId('id', id) };
    return (await this.#invoke('admin', this.#methods.removeMember, request, options)) as RemoveMemberResult;
  }

  /** Has the leader reset a follower's replication progress (a follower whose log went back; docs/operations.md). */
  async repairMember(id: string, options?: AdminOptions): Promise<RepairMemberResult> {
    const request = { id: requireId('id', id) };
    return (await this.#invoke('admin', this.#methods.repairMember, request, options)) as RepairMemberResult;
  }

  // ------------------------------------------------------------------ runs

  /**
   * Submits a run. `runId` (default: a fresh random id) makes it safe to
   * retry: the same id is never started twice (`duplicate` says it existed).
   */
  async submitRun(submission: RunSubmission, options?: AdminOptions & { runId?: string }): Promise<SubmitRunResult> {
    const runId = options?.runId ?? `r-${randomUUID().slice(0, 13)}`;
    const request = { runId, submission: deflateRawSync(Buffer.from(JSON.stringify(submission))) };
    return (await this.#invoke('write', this.#methods.submitRun, request, options)) as SubmitRunResult;
  }

  /** The full view of a run (every task, attempt and result); linearizable unless `stale`. */
  async getRun(runId: string, options?: ReadOptions): Promise<RunView & { archived: boolean }> {
    const response = (await this.#invoke('read', this.#methods.getRun, { runId, stale: options?.stale === true })) as { run: Buffer; archived: boolean };
    const run = JSON.parse(inflateRawSync(response.run, { maxOutputLength: 1024 * 1024 * 1024 }).toString('utf8')) as RunView;
    return { ...run, archived: response.archived };
  }

  async listRuns(options?: ReadOptions): Promise<RunSummary[]> {
    const response = (await this.#invoke('read', this.#methods.listRuns, { stale: options?.stale === true })) as { runs: RawSummary[] };
    return response.runs.map(fromRawSummary);
  }

  async cancelRun(runId: string, reason = ''): Promise<{ state: string; cancelledAttempts: number }> {
    return (await this.#invoke('write', this.#methods.cancelRun, { runId, reason })) as { state: string; cancelledAttempts: number };
  }

  async listWorkers(): Promise<WorkerInfo[]> {
    const response = (await this.#invoke('read', this.#methods.listWorkers, {})) as { workers: WorkerInfo[] };
    return response.workers;
  }

  /** Takes a worker out of scheduling (its running tasks finish), or puts it back with `undrain`. */
  async drainWorker(workerId: string, undrain = false): Promise<{ state: string }> {
    return (await this.#invoke('write', this.#methods.drainWorker, { workerId, undrain })) as { state: string };
  }

  /**
   * Closes a worker's circuit breaker (releases it from quarantine), or with
   * `mode` disables or re-enables the breaker. Returns the breaker's state.
   */
  async releaseWorker(workerId: string, options: { reason?: string; mode?: 'release' | 'disable' | 'enable' } = {}): Promise<{ breaker: string }> {
    const mode = options.mode ?? 'release';
    const request = { workerId, reason: options.reason ?? '', disable: mode === 'disable', enable: mode === 'enable' };
    return (await this.#invoke('write', this.#methods.releaseWorker, request)) as { breaker: string };
  }

  /**
   * Releases a lost worker's id from its session key, so that a rebuilt
   * machine can register under it (admin only). `wasBound` is false when the
   * id had no key. FAILED_PRECONDITION while the worker is not lost.
   */
  async forgetWorker(workerId: string, reason = ''): Promise<{ wasBound: boolean }> {
    return (await this.#invoke('write', this.#methods.forgetWorker, { workerId, reason })) as { wasBound: boolean };
  }

  /**
   * The cluster's circuit-breaker settings; with `change`, sets those keys
   * first (validated by the state machine; every coordinator applies them).
   */
  async breakerConfig(change?: Record<string, unknown>): Promise<Record<string, unknown>> {
    const request = { set: change === undefined ? '' : JSON.stringify(change) };
    const response = (await this.#invoke(change === undefined ? 'read' : 'write', this.#methods.breakerConfig, request)) as { config: string };
    return JSON.parse(response.config) as Record<string, unknown>;
  }

  /**
   * A linearizable point-in-time copy of the cluster's whole replicated state
   * (Cluster.SaveSnapshot), checked against the SHA-256 its server computed.
   * A stream that fails, arrives damaged, or stays silent for
   * `callTimeoutMs` is tried again on the leader a failure names, else on the
   * next endpoint, within `totalTimeoutMs` and `retry.attemptsMax`.
   */
  async saveSnapshot(options?: AdminOptions): Promise<SavedSnapshot> {
    const idleMs = options?.callTimeoutMs ?? this.#callTimeoutMs;
    requireInteger('callTimeoutMs', idleMs, 1, timeoutMsMax);
    const deadlineMs = Date.now() + this.#totalTimeoutMs;
    let endpoint = this.#preferred;
    let backoffs = 0;
    for (let attempt = 1; ; attempt++) {
      const outcome = await readSnapshotStream(this.#channel(endpoint), endpoint, this.#methods.saveSnapshot, idleMs, this.#closing.signal);
      if (this.closed) throw new ClientClosedError(outcome.ok ? undefined : outcome.error);
      if (outcome.ok) return outcome.snapshot;
      const error = outcome.error;
      if (!error.retryable && !(error instanceof UnavailableError)) throw error;
      if (attempt >= this.#retry.attemptsMax) throw new RetriesExhaustedError(attempt, error);
      const hint = usableHint(error, endpoint);
      const next = hint !== '' ? hint : this.#rotate(endpoint);
      this.#learnFromFailure(endpoint, error, next);
      const delayMs = backoffDelayMs(backoffs++, this.#retry, Math.random);
      if (Date.now() + delayMs >= deadlineMs) throw this.#totalDeadlineError(attempt, error);
      await this.#sleep(delayMs, error);
      endpoint = next;
    }
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
  async *watchRun(runId: string): AsyncGenerator<RunSummary, void, undefined> {
    let endpoint = this.#preferred;
    let backoffs = 0;
    let redirects = 0;
    let heardAtMs = Date.now();
    let lastError: TestudoError | null = null;
    for (let streams = 1; ; streams++) {
      if (this.closed) throw new ClientClosedError(lastError ?? undefined);
      const quietLeftMs = heardAtMs + this.#totalTimeoutMs - Date.now();
      if (quietLeftMs <= 0) throw this.#watchDeadlineError(runId, streams - 1, lastError);
      const outcome = yield* this.#followStream(endpoint, runId, Math.min(this.#watchIdleMs, quietLeftMs));
      if (outcome.heardAtMs > 0) {
        heardAtMs = outcome.heardAtMs;
        backoffs = 0;
        redirects = 0;
      }
      if (outcome.ended) return;
      const error = outcome.error;
      if (!error.retryable && !(error instanceof UnavailableError)) throw error;
      lastError = error;
      const hint = usableHint(error, endpoint);
      const next = hint !== '' ? hint : this.#rotate(endpoint);
      this.#learnFromFailure(endpoint, error, next);
      const delayMs = hint !== '' && redirects++ === 0 ? 0 : backoffDelayMs(backoffs++, this.#retry, Math.random);
      const waitMs = Math.min(delayMs, Math.max(0, heardAtMs + this.#totalTimeoutMs - Date.now()));
      if (waitMs > 0) await this.#sleep(waitMs, error);
      endpoint = next;
    }
  }

  /**
   * One watch stream on `endpoint`, yielding its summaries; returns whether
   * the run ended, else why the stream stopped. The idle timer pauses while
   * the caller holds a summary, so a slow consumer does not cut the stream.
   */
  async *#followStream(endpoint: string, runId: string, idleMs: number): AsyncGenerator<RunSummary, WatchStreamOutcome, undefined> {
    const method = this.#methods.watchRun;
    const stream = this.#channel(endpoint).makeServerStreamRequest(method.path, method.serialize, method.deserialize, { runId }, this.#callMetadata.clone());
    let silent = false;
    let idle: NodeJS.Timeout | null = null;
    const arm = (): void => {
      idle = setTimeout(() => {
        silent = true;
        stream.cancel();
      }, idleMs);
    };
    const disarm = (): void => {
      if (idle !== null) clearTimeout(idle);
      idle = null;
    };
    const abort = (): void => stream.cancel();
    this.#closing.signal.addEventListener('abort', abort, { once: true });
    let heardAtMs = 0;
    let error: TestudoError;
    try {
      arm();
      for await (const message of stream as AsyncIterable<{ summary: RawSummary }>) {
        disarm();
        heardAtMs = Date.now();
        const summary = fromRawSummary(message.summary);
        yield summary;
        if (summary.state !== 'running') return { ended: true, heardAtMs };
        arm();
      }
      error = new UnavailableError(`${endpoint}: the watch of ${runId} ended before the run did`, { code: 'unavailable', retryable: true, endpoint });
    } catch (caught) {
      const status = caught as { code?: number; details?: string; metadata?: Metadata };
      error = errorFromStatus({ code: status.code ?? 14, details: status.details ?? String(caught), metadata: status.metadata ?? new MetadataClass() }, endpoint);
    } finally {
      disarm();
      this.#closing.signal.removeEventListener('abort', abort);
      stream.cancel();
    }
    if (silent) error = new UnavailableError(`${endpoint}: the watch of ${runId} was silent for ${idleMs} ms`, { code: 'unavailable', retryable: true, endpoint, cause: error });
    return { ended: false, heardAtMs, error };
  }

  #watchDeadlineError(runId: string, streams: number, last: TestudoError | null): DeadlineExceededError {
    const why = last === null ? '' : `; last error: ${last.message}`;
    return new DeadlineExceededError(`no progress of run ${runId} within totalTimeoutMs=${this.#totalTimeoutMs} over ${streams} watch streams${why}`, {
      code: 'DEADLINE_EXCEEDED',
      retryable: true,
      leaderId: last?.leaderId ?? '',
      leaderAddress: last?.leaderAddress ?? '',
      endpoint: last?.endpoint ?? '',
      cause: last ?? undefined,
    });
  }

  /** Close every channel and stop every backoff; later calls fail with ClientClosedError. */
  close(): void {
    if (this.closed) return;
    this.#closing.abort();
    for (const channel of this.#channels.values()) channel.close();
    this.#channels.clear();
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

  /** Run one operation to its end under the retry policy (see the class comment). */
  async #invoke(kind: CallKind, method: UnaryMethod, request: unknown, options?: AdminOptions): Promise<unknown> {
    if (this.closed) throw new ClientClosedError();
    const callTimeoutMs = options?.callTimeoutMs ?? this.#callTimeoutMs;
    requireInteger('callTimeoutMs', callTimeoutMs, 1, timeoutMsMax);
    const deadlineMs = Date.now() + this.#totalTimeoutMs;
    let endpoint = this.#preferred;
    // Leaders this operation was sent to on a hint: a new one (a leader just
    // elected) is tried at once, a repeated one (hints that disagree) after a backoff.
    const hintsFollowed = new Set<string>();
    let backoffs = 0;
    let lastError: TestudoError | undefined;
    for (let attempt = 1; ; attempt++) {
      const attemptDeadlineMs = Math.min(Date.now() + callTimeoutMs, deadlineMs);
      const outcome = await this.#attempt(kind, endpoint, method, request, attemptDeadlineMs);
      if (this.closed) throw new ClientClosedError(outcome.ok ? undefined : outcome.error);
      if (outcome.ok) {
        this.#learnFromSuccess(outcome.trailers);
        return outcome.response;
      }
      const error = outcome.error;
      if (!shouldRetry(kind, error)) throw error;
      if (attemptDeadlineMs === deadlineMs && error instanceof DeadlineExceededError) {
        // Cut short by the total deadline: the error before says more about why.
        throw this.#totalDeadlineError(attempt, lastError ?? error);
      }
      lastError = error;
      if (attempt >= this.#retry.attemptsMax) throw new RetriesExhaustedError(attempt, error);

      const hint = usableHint(error, endpoint);
      let next: string;
      let delayMs: number;
      if (hint !== '' && !wantsBackoff(error)) {
        next = hint;
        delayMs = hintsFollowed.has(hint) ? backoffDelayMs(backoffs++, this.#retry, Math.random) : 0;
        hintsFollowed.add(hint);
      } else {
        next = wantsBackoff(error) ? hint || endpoint : this.#rotate(endpoint);
        delayMs = backoffDelayMs(backoffs++, this.#retry, Math.random);
      }
      this.#learnFromFailure(endpoint, error, next);
      if (Date.now() + delayMs >= deadlineMs) throw this.#totalDeadlineError(attempt, error);
      if (delayMs > 0) await this.#sleep(delayMs, error);
      endpoint = next;
    }
  }

  async #attempt(kind: CallKind, endpoint: string, method: UnaryMethod, request: unknown, deadlineMs: number): Promise<UnaryOutcome> {
    const channel = this.#channel(endpoint);
    if (kind === 'admin') {
      // Connect first, so that a node we cannot reach fails before the
      // request is sent and the change can safely go to another node.
      const notConnected = await whenConnected(channel, endpoint, deadlineMs);
      if (notConnected !== null) return { ok: false, error: notConnected };
    }
    return callUnary(channel, endpoint, method, request, deadlineMs, this.#callMetadata);
  }

  #channel(endpoint: string): Client {
    if (this.closed) throw new ClientClosedError();
    let channel = this.#channels.get(endpoint);
    if (channel === undefined) {
      if (this.#channels.size >= channelsMax) this.#evictLearnedChannel();
      channel = openChannel(this.#routes.dial(endpoint), { messageBytesMax: this.#messageBytesMax, ...(this.#credentials === undefined ? {} : { credentials: this.#credentials }) });
      this.#channels.set(endpoint, channel);
    }
    return channel;
  }

  /**
   * Close the oldest channel to an address that is neither configured nor
   * preferred: learned from hints or asked by memberStatus, perhaps long gone.
   */
  #evictLearnedChannel(): void {
    for (const [endpoint, channel] of this.#channels) {
      if (endpoint === this.#preferred || this.#endpoints.includes(endpoint)) continue;
      channel.close();
      this.#channels.delete(endpoint);
      return;
    }
  }

  #learnFromSuccess(trailers: Metadata): void {
    const address = metadataString(trailers, LEADER_ADDRESS_KEY);
    if (address === '') return;
    if (address !== this.#preferred) {
      if (!isEndpoint(address)) return;
      this.#preferred = address;
    }
    this.#leaderId = metadataString(trailers, LEADER_ID_KEY);
  }

  /** Move the preferred endpoint off a node that failed, unless others already did. */
  #learnFromFailure(endpoint: string, error: TestudoError, next: string): void {
    if (error.leaderAddress !== '' && next === error.leaderAddress) {
      this.#preferred = next;
      this.#leaderId = error.leaderId;
    } else if (endpoint === this.#preferred && !wantsBackoff(error)) {
      this.#preferred = next;
    }
  }

  /**
   * The configured endpoint after `from`, passing over those whose channel is
   * in TRANSIENT_FAILURE (a recent connect failed) while another is left.
   */
  #rotate(from: string): string {
    const list = this.#endpoints;
    const start = list.indexOf(from); // -1 for a learned address: begin at the first
    for (let step = 1; step <= list.length; step++) {
      const candidate = at(list, (start + step) % list.length);
      if (candidate === from) continue;
      const channel = this.#channels.get(candidate);
      if (channel === undefined) return candidate;
      if (channel.getChannel().getConnectivityState(false) !== connectivityState.TRANSIENT_FAILURE) return candidate;
    }
    return at(list, (start + 1) % list.length);
  }

  async #sleep(delayMs: number, lastError: TestudoError): Promise<void> {
    try {
      await sleep(delayMs, undefined, { signal: this.#closing.signal });
    } catch {
      throw new ClientClosedError(lastError);
    }
  }

  #totalDeadlineError(attempts: number, last: TestudoError): DeadlineExceededError {
    return new DeadlineExceededError(
      `no success within totalTimeoutMs=${this.#totalTimeoutMs} after ${attempts} attempts; last error: ${last.message}`,
      {
        code: 'DEADLINE_EXCEEDED',
        retryable: true,
        leaderId: last.leaderId,
        leaderAddress: last.leaderAddress,
        endpoint: last.endpoint,
        cause: last,
      },
    );
  }
}

/**
 * Resolves null once `channel` is READY, or why it is not: a connect attempt
 * failed, or none finished by `deadlineMs`. (grpc-js's own waitForReady keeps
 * waiting through failures until the deadline.)
 */
function whenConnected(channel: Client, endpoint: string, deadlineMs: number): Promise<UnavailableError | null> {
  const notConnected = (why: string, cause?: unknown): UnavailableError =>
    new UnavailableError(`${endpoint}: UNAVAILABLE: ${why}`, { code: 'UNAVAILABLE', retryable: true, endpoint, cause }, true);
  const grpcChannel = channel.getChannel();
  return new Promise((resolve) => {
    const check = (): void => {
      const state = grpcChannel.getConnectivityState(true);
      if (state === connectivityState.READY) {
        resolve(null);
      } else if (state === connectivityState.TRANSIENT_FAILURE || state === connectivityState.SHUTDOWN) {
        resolve(notConnected('could not connect'));
      } else {
        grpcChannel.watchConnectivityState(state, deadlineMs, (error) => {
          if (error === undefined) check();
          else resolve(notConnected('no connection before the deadline', error));
        });
      }
    };
    check();
  });
}

/** The leader hint of `error` if it names another, well-formed endpoint; else ''. */
function usableHint(error: TestudoError, endpoint: string): string {
  const address = error.leaderAddress;
  return address !== '' && address !== endpoint && isEndpoint(address) ? address : '';
}

function toBytes(value: Uint8Array | string): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  throw invalid('value must be a Uint8Array or a string');
}

function requireKey(key: string): string {
  if (typeof key !== 'string') throw invalid('key must be a string');
  return key;
}

function requireId(name: string, id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw invalid(`${name} must be a non-empty member id`);
  return id;
}

/** The metadata every call carries: the token, checked here so a bad one fails before any call (its text is never quoted). */
function callMetadataFor(token: string | undefined): Metadata {
  const metadata = new MetadataClass();
  if (token === undefined) return metadata;
  const problem = typeof token === 'string' ? tokenProblem(token) : 'token must be a string';
  if (problem !== null) throw invalid(`token: ${problem}`);
  metadata.set(authorizationKey, bearer(token));
  return metadata;
}

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError(message, { code: 'invalid', retryable: false });
}

function first(list: readonly string[]): string {
  return at(list, 0);
}

function at(list: readonly string[], index: number): string {
  const value = list[index];
  assert(value !== undefined, `index ${index} outside a list of ${list.length}`);
  return value;
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new TestudoError(`broken invariant: ${message}`, { code: 'INTERNAL', retryable: false });
}
