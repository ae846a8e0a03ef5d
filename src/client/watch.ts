import { Metadata } from '@grpc/grpc-js';
import type { RunSummary__Output } from '../generated/testudo/v1/RunSummary.js';
import type { RunSummary } from '../model/index.js';
import { assert } from './args.js';
import type { Connection } from './connection.js';
import { ClientClosedError, DeadlineExceededError, UnavailableError, errorFromStatus, type TestudoError } from './errors.js';
import { backoffDelayMs } from './retry.js';
import type { Methods } from './rpc.js';

/** How one watch stream stopped: the run ended, or why not (and when it last delivered, 0 for never). */
type WatchStreamOutcome = { readonly ended: true; readonly heardAtMs: number } | { readonly ended: false; readonly heardAtMs: number; readonly error: TestudoError };

/** A run's summary as the Runs service sends it (ListRuns, WatchRun). */
export function runSummaryFromWire(wire: RunSummary__Output): RunSummary {
  const counts = wire.counts ?? { tasks: 0, queued: 0, running: 0, passed: 0, failed: 0, cancelled: 0, failedInfra: 0 };
  return {
    runId: wire.runId,
    name: wire.name,
    state: wire.state as RunSummary['state'],
    submittedAtMs: wire.submittedAtMs,
    finishedAtMs: wire.finishedAtMs,
    counts,
    degraded: wire.degraded,
  };
}

/**
 * Follows a run (TestudoClient.watchRun): yields its summary whenever it
 * changes and returns after the run ends.
 *
 * Across failovers: a stream that fails, ends early, or stays silent for
 * `watchIdleMs` is reopened — on the leader a failure's hint names (at once
 * for the first redirect), else on the next endpoint after a backoff. The
 * watch gives up with DeadlineExceededError when no summary has arrived
 * for `totalTimeoutMs`, whatever the streams did meanwhile.
 */
export async function* watchRun(conn: Connection, method: Methods['watchRun'], runId: string, watchIdleMs: number): AsyncGenerator<RunSummary, void, undefined> {
  let endpoint = conn.preferred;
  let backoffs = 0;
  let redirects = 0;
  let heardAtMs = Date.now();
  let lastError: TestudoError | null = null;
  for (let streams = 1; ; streams++) {
    if (conn.closed) throw new ClientClosedError(lastError ?? undefined);
    const quietLeftMs = heardAtMs + conn.totalTimeoutMs - Date.now();
    if (quietLeftMs <= 0) throw watchDeadlineError(conn, runId, streams - 1, lastError);
    const outcome = yield* followStream(conn, method, endpoint, runId, Math.min(watchIdleMs, quietLeftMs));
    if (outcome.heardAtMs > 0) {
      heardAtMs = outcome.heardAtMs;
      backoffs = 0;
      redirects = 0;
    }
    if (outcome.ended) return;
    const error = outcome.error;
    if (!error.retryable && !(error instanceof UnavailableError)) throw error;
    lastError = error;
    const { next, hinted } = conn.nextAfter(endpoint, error);
    const delayMs = hinted && redirects++ === 0 ? 0 : backoffDelayMs(backoffs++, conn.retry, Math.random);
    const waitMs = Math.min(delayMs, Math.max(0, heardAtMs + conn.totalTimeoutMs - Date.now()));
    if (waitMs > 0) await conn.sleep(waitMs, error);
    endpoint = next;
  }
}

/**
 * One watch stream on `endpoint`, yielding its summaries; returns whether
 * the run ended, else why the stream stopped. The idle timer pauses while
 * the caller holds a summary, so a slow consumer does not cut the stream.
 */
async function* followStream(conn: Connection, method: Methods['watchRun'], endpoint: string, runId: string, idleMs: number): AsyncGenerator<RunSummary, WatchStreamOutcome, undefined> {
  const stream = conn.channel(endpoint).makeServerStreamRequest(method.path, method.serialize, method.deserialize, { runId }, conn.callMetadata.clone());
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
  conn.closing.addEventListener('abort', abort, { once: true });
  let heardAtMs = 0;
  let error: TestudoError;
  try {
    arm();
    for await (const message of stream as AsyncIterable<ReturnType<typeof method.deserialize>>) {
      disarm();
      heardAtMs = Date.now();
      assert(message.summary !== null, `${endpoint} sent run progress without a summary`);
      const summary = runSummaryFromWire(message.summary);
      yield summary;
      if (summary.state !== 'running') return { ended: true, heardAtMs };
      arm();
    }
    error = new UnavailableError(`${endpoint}: the watch of ${runId} ended before the run did`, { code: 'unavailable', retryable: true, endpoint });
  } catch (caught) {
    const status = caught as { code?: number; details?: string; metadata?: Metadata };
    error = errorFromStatus({ code: status.code ?? 14, details: status.details ?? String(caught), metadata: status.metadata ?? new Metadata() }, endpoint);
  } finally {
    disarm();
    conn.closing.removeEventListener('abort', abort);
    stream.cancel();
  }
  if (silent) error = new UnavailableError(`${endpoint}: the watch of ${runId} was silent for ${idleMs} ms`, { code: 'unavailable', retryable: true, endpoint, cause: error });
  return { ended: false, heardAtMs, error };
}

function watchDeadlineError(conn: Connection, runId: string, streams: number, last: TestudoError | null): DeadlineExceededError {
  const why = last === null ? '' : `; last error: ${last.message}`;
  return new DeadlineExceededError(`no progress of run ${runId} within totalTimeoutMs=${conn.totalTimeoutMs} over ${streams} watch streams${why}`, {
    code: 'DEADLINE_EXCEEDED',
    retryable: true,
    leaderId: last?.leaderId ?? '',
    leaderAddress: last?.leaderAddress ?? '',
    endpoint: last?.endpoint ?? '',
    cause: last ?? undefined,
  });
}
