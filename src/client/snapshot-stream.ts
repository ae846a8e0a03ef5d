import { createHash } from 'node:crypto';
import { Metadata, type Client } from '@grpc/grpc-js';
import type { SnapshotHeader__Output } from '../generated/testudo/v1/SnapshotHeader.js';
import type { Connection } from './connection.js';
import { ClientClosedError, RetriesExhaustedError, errorFromStatus, UnavailableError, type TestudoError } from './errors.js';
import { backoffDelayMs } from './retry.js';
import type { Methods } from './rpc.js';
import type { SavedSnapshot } from './types.js';

type SaveSnapshotMethod = Methods['saveSnapshot'];

/** Largest snapshot the client accepts (it holds the whole state in memory). */
export const savedSnapshotBytesMax = 1024 * 1024 * 1024;

export type SnapshotStreamOutcome = { readonly ok: true; readonly snapshot: SavedSnapshot } | { readonly ok: false; readonly error: TestudoError };

/**
 * Reads one Cluster.SaveSnapshot stream from `endpoint`: the header in the
 * first chunk, then data until `dataBytes`, checked against the header's
 * SHA-256. A stream silent for `idleMs` is cancelled (retryable). Never
 * rejects: a failure comes back classified.
 */
/**
 * A copy of the cluster's state (TestudoClient.saveSnapshot). A stream that
 * fails, arrives damaged, or stays silent for `idleMs` is tried again on the
 * leader a failure names, else on the next endpoint, within `totalTimeoutMs`
 * and `retry.attemptsMax`.
 */
export async function saveSnapshot(conn: Connection, method: SaveSnapshotMethod, idleMs: number): Promise<SavedSnapshot> {
  const deadlineMs = Date.now() + conn.totalTimeoutMs;
  let endpoint = conn.preferred;
  let backoffs = 0;
  for (let attempt = 1; ; attempt++) {
    const outcome = await readSnapshotStream(conn.channel(endpoint), endpoint, method, idleMs, conn.closing, conn.callMetadata);
    if (conn.closed) throw new ClientClosedError(outcome.ok ? undefined : outcome.error);
    if (outcome.ok) return outcome.snapshot;
    const error = outcome.error;
    if (!error.retryable && !(error instanceof UnavailableError)) throw error;
    if (attempt >= conn.retry.attemptsMax) throw new RetriesExhaustedError(attempt, error);
    const { next } = conn.nextAfter(endpoint, error);
    const delayMs = backoffDelayMs(backoffs++, conn.retry, Math.random);
    if (Date.now() + delayMs >= deadlineMs) throw conn.totalDeadlineError(attempt, error);
    await conn.sleep(delayMs, error);
    endpoint = next;
  }
}

export async function readSnapshotStream(channel: Client, endpoint: string, method: SaveSnapshotMethod, idleMs: number, abort: AbortSignal, metadata: Metadata): Promise<SnapshotStreamOutcome> {
  // The call's metadata carries the token: SaveSnapshot is an admin call.
  const stream = channel.makeServerStreamRequest(method.path, method.serialize, method.deserialize, {}, metadata.clone());
  let silent = false;
  let idle: NodeJS.Timeout | null = null;
  const arm = (): void => {
    if (idle !== null) clearTimeout(idle);
    idle = setTimeout(() => {
      silent = true;
      stream.cancel();
    }, idleMs);
  };
  const cancel = (): void => stream.cancel();
  abort.addEventListener('abort', cancel, { once: true });
  let header: SnapshotHeader__Output | null = null;
  const parts: Buffer[] = [];
  let received = 0;
  try {
    arm();
    for await (const chunk of stream as AsyncIterable<ReturnType<SaveSnapshotMethod['deserialize']>>) {
      arm();
      if (header === null) {
        if (chunk.header === null) return lost(endpoint, 'the first snapshot chunk carries no header');
        header = chunk.header;
        if (header.dataBytes > savedSnapshotBytesMax) return lost(endpoint, `the snapshot is ${header.dataBytes} bytes, over ${savedSnapshotBytesMax}`);
      }
      received += chunk.data.byteLength;
      if (received > header.dataBytes) return lost(endpoint, `the snapshot stream sent more than the ${header.dataBytes} bytes its header announced`);
      parts.push(chunk.data);
    }
  } catch (caught) {
    const status = caught as { code?: number; details?: string; metadata?: Metadata };
    const error = errorFromStatus({ code: status.code ?? 14, details: status.details ?? String(caught), metadata: status.metadata ?? new Metadata() }, endpoint);
    if (silent) return { ok: false, error: new UnavailableError(`${endpoint}: the snapshot stream was silent for ${idleMs} ms`, { code: 'unavailable', retryable: true, endpoint, cause: error }) };
    return { ok: false, error };
  } finally {
    if (idle !== null) clearTimeout(idle);
    abort.removeEventListener('abort', cancel);
    stream.cancel();
  }
  if (header === null) return lost(endpoint, 'the snapshot stream ended before its header');
  if (received !== header.dataBytes) return lost(endpoint, `the snapshot stream ended after ${received} of ${header.dataBytes} bytes`);
  const data = Buffer.concat(parts, received);
  if (createHash('sha256').update(data).digest('hex') !== header.dataSha256) return lost(endpoint, 'the snapshot received does not match the SHA-256 the coordinator computed');
  return { ok: true, snapshot: { ...header, data } };
}

/** A copy that arrived damaged or cut short: retryable (another attempt may arrive whole). */
function lost(endpoint: string, message: string): SnapshotStreamOutcome {
  return { ok: false, error: new UnavailableError(`${endpoint}: ${message}`, { code: 'data-loss', retryable: true, endpoint }) };
}
