import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectivityState, type ChannelCredentials, type Client, type Metadata } from '@grpc/grpc-js';
import { endpointsMax, isEndpoint } from './endpoints.js';
import { at, first, timeoutMsMax } from './args.js';
import { ClientClosedError, DeadlineExceededError, LEADER_ADDRESS_KEY, LEADER_ID_KEY, RetriesExhaustedError, UnavailableError, metadataString, type TestudoError } from './errors.js';
import { backoffDelayMs, requireInteger, shouldRetry, wantsBackoff, type CallKind, type ResolvedRetryOptions } from './retry.js';
import type { AddressRoutes } from './routes.js';
import { callUnary, openChannel, type UnaryMethod, type UnaryOutcome } from './rpc.js';
import type { AdminOptions } from './types.js';

/**
 * Open channels: the configured endpoints plus addresses learned from leader
 * hints or named to memberStatus. Past this, the oldest learned one closes.
 */
export const channelsMax = endpointsMax * 2;

/** What a Connection is made of, validated by TestudoClient. */
export interface ConnectionSettings {
  readonly endpoints: readonly string[];
  readonly callTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly retry: ResolvedRetryOptions;
  readonly messageBytesMax: number;
  readonly routes: AddressRoutes;
  readonly credentials: ChannelCredentials | undefined;
  /** Sent with every call; `authorization` when a token was given. */
  readonly callMetadata: Metadata;
}

/**
 * A client's channels to the coordinators and the leader it follows: one
 * channel per endpoint (at most `channelsMax`), the preferred endpoint that
 * every operation tries first, and the retry policy of one operation.
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
 *
 * Every answer's trailing `testudo-leader-address`, successes included, moves
 * the preferred endpoint.
 */
/** One operation's options: an attempt's deadline, and when the operation began (a put that waited for a batch began when it was made). */
export interface InvokeOptions extends AdminOptions {
  /** Date.now() when the caller made the operation; `totalTimeoutMs` counts from here. Default: now. */
  readonly startedAtMs?: number;
}

export class Connection {
  readonly endpoints: readonly string[];
  readonly callTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly retry: ResolvedRetryOptions;
  readonly callMetadata: Metadata;
  readonly #settings: ConnectionSettings;
  readonly #channels = new Map<string, Client>();
  readonly #closing = new AbortController();
  #preferred: string;
  #leaderId = '';

  constructor(settings: ConnectionSettings) {
    this.#settings = settings;
    this.endpoints = settings.endpoints;
    this.callTimeoutMs = settings.callTimeoutMs;
    this.totalTimeoutMs = settings.totalTimeoutMs;
    this.retry = settings.retry;
    this.callMetadata = settings.callMetadata;
    this.#preferred = first(this.endpoints);
    // Every operation in backoff listens for close(); there is one per caller.
    setMaxListeners(0, this.#closing.signal);
  }

  /** Where the next operation goes first: the last leader learned, else a configured endpoint. */
  get preferred(): string {
    return this.#preferred;
  }

  /** The last leader id a server reported, or ''. */
  get leaderId(): string {
    return this.#leaderId;
  }

  get channelCount(): number {
    return this.#channels.size;
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /** Aborted by close(): streams and backoffs listen to it. */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  /** Close every channel and stop every backoff. */
  close(): void {
    if (this.closed) return;
    this.#closing.abort();
    for (const channel of this.#channels.values()) channel.close();
    this.#channels.clear();
  }

  /** Run one operation to its end under the retry policy (see the class comment). */
  async invoke<Req, Res>(kind: CallKind, method: UnaryMethod<Req, Res>, request: Req, options?: InvokeOptions): Promise<Res> {
    if (this.closed) throw new ClientClosedError();
    const callTimeoutMs = options?.callTimeoutMs ?? this.callTimeoutMs;
    requireInteger('callTimeoutMs', callTimeoutMs, 1, timeoutMsMax);
    const deadlineMs = (options?.startedAtMs ?? Date.now()) + this.totalTimeoutMs;
    let endpoint = this.#preferred;
    // Leaders this operation was sent to on a hint: a new one (a leader just
    // elected) is tried at once, a repeated one (hints that disagree) after a backoff.
    const hintsFollowed = new Set<string>();
    let backoffs = 0;
    let lastError: TestudoError | undefined;
    for (let attempt = 1; ; attempt++) {
      const attemptDeadlineMs = Math.min(Date.now() + callTimeoutMs, deadlineMs);
      const outcome = await this.attempt(kind, endpoint, method, request, attemptDeadlineMs);
      if (this.closed) throw new ClientClosedError(outcome.ok ? undefined : outcome.error);
      if (outcome.ok) {
        this.learnFromSuccess(outcome.trailers);
        return outcome.response;
      }
      const error = outcome.error;
      if (!shouldRetry(kind, error)) throw error;
      if (attemptDeadlineMs === deadlineMs && error instanceof DeadlineExceededError) {
        // Cut short by the total deadline: the error before says more about why.
        throw this.totalDeadlineError(attempt, lastError ?? error);
      }
      lastError = error;
      if (attempt >= this.retry.attemptsMax) throw new RetriesExhaustedError(attempt, error);

      const hint = usableHint(error, endpoint);
      let next: string;
      let delayMs: number;
      if (hint !== '' && !wantsBackoff(error)) {
        next = hint;
        delayMs = hintsFollowed.has(hint) ? backoffDelayMs(backoffs++, this.retry, Math.random) : 0;
        hintsFollowed.add(hint);
      } else {
        next = wantsBackoff(error) ? hint || endpoint : this.rotate(endpoint);
        delayMs = backoffDelayMs(backoffs++, this.retry, Math.random);
      }
      this.learnFromFailure(endpoint, error, next);
      if (Date.now() + delayMs >= deadlineMs) throw this.totalDeadlineError(attempt, error);
      if (delayMs > 0) await this.sleep(delayMs, error);
      endpoint = next;
    }
  }

  /** One attempt on `endpoint`; an admin change connects first. Never rejects. */
  async attempt<Req, Res>(kind: CallKind, endpoint: string, method: UnaryMethod<Req, Res>, request: Req, deadlineMs: number): Promise<UnaryOutcome<Res>> {
    const channel = this.channel(endpoint);
    if (kind === 'admin') {
      // Connect first, so that a node we cannot reach fails before the
      // request is sent and the change can safely go to another node.
      const notConnected = await whenConnected(channel, endpoint, deadlineMs);
      if (notConnected !== null) return { ok: false, error: notConnected };
    }
    return callUnary(channel, endpoint, method, request, deadlineMs, this.callMetadata);
  }

  /** The endpoint an operation's next attempt goes to after `error` on `endpoint`, learning from it: the leader it names, else the next endpoint. */
  nextAfter(endpoint: string, error: TestudoError): { readonly next: string; readonly hinted: boolean } {
    const hint = usableHint(error, endpoint);
    const next = hint !== '' ? hint : this.rotate(endpoint);
    this.learnFromFailure(endpoint, error, next);
    return { next, hinted: hint !== '' };
  }

  channel(endpoint: string): Client {
    if (this.closed) throw new ClientClosedError();
    let channel = this.#channels.get(endpoint);
    if (channel === undefined) {
      if (this.#channels.size >= channelsMax) this.#evictLearnedChannel();
      const { messageBytesMax, routes, credentials } = this.#settings;
      channel = openChannel(routes.dial(endpoint), { messageBytesMax, ...(credentials === undefined ? {} : { credentials }) });
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
      if (endpoint === this.#preferred || this.endpoints.includes(endpoint)) continue;
      channel.close();
      this.#channels.delete(endpoint);
      return;
    }
  }

  learnFromSuccess(trailers: Metadata): void {
    const address = metadataString(trailers, LEADER_ADDRESS_KEY);
    if (address === '') return;
    if (address !== this.#preferred) {
      if (!isEndpoint(address)) return;
      this.#preferred = address;
    }
    this.#leaderId = metadataString(trailers, LEADER_ID_KEY);
  }

  /** Move the preferred endpoint off a node that failed, unless others already did. */
  learnFromFailure(endpoint: string, error: TestudoError, next: string): void {
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
  rotate(from: string): string {
    const list = this.endpoints;
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

  /** Waits `delayMs` unless the client closes first (ClientClosedError, caused by `lastError`). */
  async sleep(delayMs: number, lastError: TestudoError): Promise<void> {
    try {
      await sleep(delayMs, undefined, { signal: this.#closing.signal });
    } catch {
      throw new ClientClosedError(lastError);
    }
  }

  totalDeadlineError(attempts: number, last: TestudoError): DeadlineExceededError {
    return new DeadlineExceededError(
      `no success within totalTimeoutMs=${this.totalTimeoutMs} after ${attempts} attempts; last error: ${last.message}`,
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
