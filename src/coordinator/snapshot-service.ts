import * as grpc from '@grpc/grpc-js';
import { assert } from '../raft/index.js';
import type { AdminHost } from './admin.js';
import { ServiceError, toServiceError } from './grpc-errors.js';
import { sha256Hex } from './snapshot-file.js';
import { failStream } from './stream-status.js';

/** Bytes of state in one SnapshotChunk (well under any gRPC message limit). */
export const snapshotChunkBytes = 1024 * 1024;
/** Snapshot copies served at once by one node (each holds a copy of the whole state in memory). */
export const snapshotSavesMax = 2;
/** Longest the ReadIndex round before a copy may take. */
export const snapshotReadTimeoutMs = 5_000;

interface SnapshotHeaderWire {
  clusterId: string;
  index: number;
  term: number;
  dataBytes: number;
  dataSha256: string;
  servedBy: string;
  leaderId: string;
  savedAtMs: number;
}

type SaveCall = grpc.ServerWritableStream<unknown, { header: SnapshotHeaderWire | null; data: Uint8Array }>;

/**
 * Cluster.SaveSnapshot: a linearizable, point-in-time copy of the whole
 * replicated state (key-value items, members, idempotency table, and the
 * orchestrator's runs, history, workers and breakers), streamed in chunks.
 *
 * Linearizable: the copy is taken after a ReadIndex round, once this node
 * has applied at least the index it returned, so it holds every write
 * acknowledged before the call, whichever member serves it. Point in time:
 * the state machine is encoded in one synchronous step (the same encoding a
 * Raft snapshot uses), so no entry is half-applied in it. The first chunk's
 * header carries the applied index, the term, and the SHA-256 of the data,
 * which the client checks after reassembly.
 */
export function saveSnapshotHandler(host: AdminHost): grpc.handleServerStreamingCall<unknown, unknown> {
  let serving = 0;
  return (call) => {
    const stream = call as SaveCall;
    if (serving >= snapshotSavesMax) {
      failStream(stream, toServiceError(new ServiceError(grpc.status.RESOURCE_EXHAUSTED, 'too-many-requests', true, `${snapshotSavesMax} snapshot copies are being served here`), host.leaderHint()));
      host.onRequest?.('SaveSnapshot', grpc.status.RESOURCE_EXHAUSTED);
      return;
    }
    serving++;
    void serveSnapshot(host, stream).finally(() => serving--);
  };
}

async function serveSnapshot(host: AdminHost, call: SaveCall): Promise<void> {
  try {
    await confirmCurrent(host);
    const data = host.machine.snapshot();
    const header: SnapshotHeaderWire = {
      clusterId: host.clusterId,
      index: host.machine.appliedIndex,
      term: host.node.status().term,
      dataBytes: data.byteLength,
      dataSha256: sha256Hex(data),
      servedBy: host.nodeId,
      leaderId: host.node.leaderId,
      savedAtMs: host.nowMs(),
    };
    assert(header.index > 0, 'a snapshot after a ReadIndex round is at index 0');
    let sent = 0;
    do {
      const chunk = data.subarray(sent, Math.min(data.byteLength, sent + snapshotChunkBytes));
      if (call.cancelled) return;
      const more = call.write({ header: sent === 0 ? header : null, data: chunk });
      sent += chunk.byteLength;
      if (!more) await drained(call);
    } while (sent < data.byteLength);
    call.end();
    host.onRequest?.('SaveSnapshot', grpc.status.OK);
  } catch (error) {
    const status = toServiceError(error, host.leaderHint());
    host.onRequest?.('SaveSnapshot', status.code ?? grpc.status.UNKNOWN);
    failStream(call, status);
  }
}

/** A ReadIndex round answered within `snapshotReadTimeoutMs`; a node cut off from the leader fails it (retryable). */
async function confirmCurrent(host: AdminHost): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ServiceError(grpc.status.UNAVAILABLE, 'timeout', true, `${host.nodeId} could not confirm it is current within ${snapshotReadTimeoutMs} ms`)),
      snapshotReadTimeoutMs,
    );
  });
  try {
    await Promise.race([host.node.readIndex(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function drained(call: SaveCall): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      call.off('close', done);
      resolve();
    };
    call.on('drain', done);
    call.on('close', done);
  });
}
