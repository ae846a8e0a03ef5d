import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';

import { protoLoaderOptions, protoPath } from '../../src/common/protos.js';
import { crc32c } from '../../src/raft/crc32c.js';
import { GrpcTransport, peerServerOptions, type GrpcTransportOptions, type PeerLogger } from '../../src/raft/transport/grpc-transport.js';
import { encodeBatchFrame, encodeChunkFrame } from '../../src/raft/transport/peer-codec.js';
import type { TransportHandler } from '../../src/raft/transport/transport.js';
import { MessageType, message, type Message, type NodeId, type Snapshot } from '../../src/raft/core/types.js';

// ---------------------------------------------------------------------------
// Fixtures

const clusterId = 'cluster-a';
const peerProcessPath = fileURLToPath(new URL('./fixtures/peer-process.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const mib = 1024 * 1024;

/** Set while a test is inside transport.send: the handler must never be called then. */
let insideSend = false;

class RecordingHandler implements TransportHandler {
  readonly messages: Message[] = [];
  readonly unreachable: NodeId[] = [];
  readonly snapshotStatus: [NodeId, boolean][] = [];
  readonly addresses: [NodeId, string][] = [];
  readonly lost: NodeId[] = [];

  onMessage(m: Message): void {
    this.notReentrant();
    this.messages.push(m);
  }
  onUnreachable(peer: NodeId): void {
    this.notReentrant();
    this.unreachable.push(peer);
  }
  onSnapshotStatus(peer: NodeId, ok: boolean): void {
    this.notReentrant();
    this.snapshotStatus.push([peer, ok]);
  }
  onPeerAddress(peer: NodeId, address: string): void {
    this.notReentrant();
    this.addresses.push([peer, address]);
  }
  onPeerLost(peer: NodeId): void {
    this.notReentrant();
    this.lost.push(peer);
  }
  private notReentrant(): void {
    if (insideSend) throw new Error('handler called from inside send()');
  }
}

interface Node {
  readonly id: NodeId;
  readonly address: string;
  readonly port: number;
  readonly server: grpc.Server;
  readonly transport: GrpcTransport;
  readonly handler: RecordingHandler;
}

type NodeOptions = Partial<Omit<GrpcTransportOptions, 'nodeId' | 'advertiseAddress' | 'handler'>>;

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function bind(server: grpc.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
}

function shutdown(server: grpc.Server): Promise<void> {
  return new Promise((resolve) => {
    server.tryShutdown(() => resolve());
    // Streams that outlive the graceful shutdown are cut.
    setTimeout(() => server.forceShutdown(), 500).unref();
  });
}

async function startNode(id: NodeId, options: NodeOptions = {}, port = 0): Promise<Node> {
  const server = new grpc.Server(peerServerOptions(options.messageBytesMax ?? 16 * mib));
  const bound = await bind(server, port);
  const address = `127.0.0.1:${bound}`;
  const handler = new RecordingHandler();
  // TESTUDO_TEST_LOG=debug shows what the transports log.
  const logger = process.env['TESTUDO_TEST_LOG'] ? pino({ level: process.env['TESTUDO_TEST_LOG'], base: { nodeId: id } }, pino.destination(2)) : undefined;
  const transport = new GrpcTransport({
    clusterId,
    reconnectBackoffMs: { base: 10, max: 100 },
    logger,
    ...options,
    nodeId: id,
    advertiseAddress: address,
    handler,
  });
  transport.registerService(server);
  const node: Node = { id, address, port: bound, server, transport, handler };
  cleanups.push(() => stopNode(node));
  return node;
}

const stopped = new WeakSet<Node>();

async function stopNode(node: Node): Promise<void> {
  if (stopped.has(node)) return;
  stopped.add(node);
  await node.transport.close();
  await shutdown(node.server);
}

function connectAll(nodes: readonly Node[]): void {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.transport.setPeer(b.id, b.address);
}

function send(node: Node, messages: readonly Message[]): void {
  insideSend = true;
  try {
    node.transport.send(messages);
  } finally {
    insideSend = false;
  }
}

/** Polls `condition` until it holds, failing after `timeoutMs`. */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function app(from: NodeId, to: NodeId, index: number, dataBytes = 16): Message {
  const data = new Uint8Array(dataBytes).fill(index & 0xff);
  return message({ type: MessageType.App, from, to, term: 3, logTerm: 3, index, commit: index, entries: [{ term: 3, index: index + 1, type: 0, data }] });
}

function snapMessage(from: NodeId, to: NodeId, data: Uint8Array): Message {
  const snapshot: Snapshot = { metadata: { index: 500, term: 4, confState: { voters: ['n1', 'n2', 'n3'], learners: [] } }, data };
  return message({ type: MessageType.Snap, from, to, term: 4, snapshot });
}

function pattern(bytes: number, seed: number): Uint8Array {
  const data = new Uint8Array(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  return data;
}

/** A client speaking RaftPeer.Stream with frames given as raw bytes. */
function rawStream(
  address: string,
  metadata: Record<string, string>,
): { call: grpc.ClientWritableStream<Uint8Array>; result: Promise<grpc.ServiceError | null>; client: grpc.Client } {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  for (const [key, value] of Object.entries(metadata)) md.set(key, value);
  let call!: grpc.ClientWritableStream<Uint8Array>;
  const result = new Promise<grpc.ServiceError | null>((resolve) => {
    call = client.makeClientStreamRequest<Uint8Array, Buffer>(
      '/testudo.raft.v1.RaftPeer/Stream',
      (frame) => Buffer.from(frame),
      (bytes) => bytes,
      md,
      {},
      (error) => resolve(error),
    );
  });
  cleanups.push(async () => {
    call.cancel();
    client.close();
  });
  return { call, result, client };
}

function peerMetadata(from: NodeId, cluster = clusterId): Record<string, string> {
  return { 'testudo-from': from, 'testudo-from-address': '127.0.0.1:1', 'testudo-cluster-id': cluster };
}

// ---------------------------------------------------------------------------

describe('GrpcTransport', () => {
  it('accepts a pino logger', () => {
    const logger: PeerLogger = pino({ level: 'silent' });
    expect(typeof logger.warn).toBe('function');
  });

  it('delivers messages in order between two transports, both ways', async () => {
    const [a, b] = [await startNode('n1'), await startNode('n2')];
    connectAll([a, b]);
    for (let i = 1; i <= 100; i++) send(a, [app('n1', 'n2', i)]);
    send(b, [message({ type: MessageType.AppResp, from: 'n2', to: 'n1', term: 3, index: 7 })]);
    await waitFor(() => b.handler.messages.length === 100 && a.handler.messages.length === 1, 'delivery');
    expect(b.handler.messages.map((m) => m.index)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(b.handler.messages[41]).toEqual(app('n1', 'n2', 42));
    expect(a.handler.messages[0]).toMatchObject({ type: 'AppResp', from: 'n2', index: 7 });
    expect(b.handler.addresses).toContainEqual(['n1', a.address]);
    expect(a.handler.unreachable).toEqual([]);
  });

  it('delivers in order among three transports, each pair its own stream', async () => {
    const nodes = [await startNode('n1'), await startNode('n2'), await startNode('n3')];
    connectAll(nodes);
    for (let round = 1; round <= 50; round++) {
      for (const from of nodes) {
        send(
          from,
          nodes.filter((to) => to !== from).map((to) => app(from.id, to.id, round)),
        );
      }
      // Spread the sends over several turns of the event loop.
      if (round % 10 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => nodes.every((n) => n.handler.messages.length === 100), 'delivery to all three');
    for (const to of nodes) {
      for (const from of nodes.filter((n) => n !== to)) {
        const got = to.handler.messages.filter((m) => m.from === from.id).map((m) => m.index);
        expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      }
    }
  });

  it('batches many sends made in one tick into few frames', async () => {
    const [a, b] = [await startNode('n1'), await startNode('n2')];
    connectAll([a, b]);
    for (let i = 1; i <= 500; i++) send(a, [app('n1', 'n2', i, 64)]);
    await waitFor(() => b.handler.messages.length === 500, 'delivery');
    const sent = a.transport.stats();
    expect(sent.messagesSent).toBe(500);
    expect(sent.framesSent).toBeLessThanOrEqual(2);
    expect(b.transport.stats().framesReceived).toBe(sent.framesSent);
    expect(b.transport.stats().messagesReceived).toBe(500);
  });

  it('splits a batch that would pass messageBytesMax into several frames', async () => {
    const options = { messageBytesMax: 64 * 1024, snapshotChunkBytes: 16 * 1024 };
    const [a, b] = [await startNode('n1', options), await startNode('n2', options)];
    connectAll([a, b]);
    for (let i = 1; i <= 100; i++) send(a, [app('n1', 'n2', i, 4096)]);
    await waitFor(() => b.handler.messages.length === 100, 'delivery');
    expect(b.handler.messages.map((m) => m.index)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(a.transport.stats().framesSent).toBeGreaterThanOrEqual(7);
    expect(b.transport.stats().framesRejected).toBe(0);
  });

  it('waits for drain when the stream pushes back, keeping order', async () => {
    const options = { messageBytesMax: 8 * 1024, snapshotChunkBytes: 4 * 1024 };
    const [a, b] = [await startNode('n1', options), await startNode('n2', options)];
    connectAll([a, b]);
    for (let i = 1; i <= 400; i++) send(a, [app('n1', 'n2', i, 2000)]);
    await waitFor(() => b.handler.messages.length === 400, 'delivery');
    expect(b.handler.messages.map((m) => m.index)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(a.transport.stats().framesSent).toBeGreaterThanOrEqual(100);
  });

  it('pipelines a long stream of messages across many ticks without loss', async () => {
    const [a, b] = [await startNode('n1'), await startNode('n2')];
    connectAll([a, b]);
    const total = 20_000;
    for (let i = 1; i <= total; i++) {
      send(a, [app('n1', 'n2', i, 256)]);
      if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor(() => b.handler.messages.length === total, 'delivery', 30_000);
    let ordered = true;
    b.handler.messages.forEach((m, i) => (ordered &&= m.index === i + 1));
    expect(ordered).toBe(true);
    expect(a.transport.stats().droppedMessages).toBe(0);
    expect(a.transport.stats().framesSent).toBeLessThan(total / 10);
  });

  it('sends a 5 MiB snapshot in 1 MiB chunks under a 2 MiB frame limit', async () => {
    const options = { messageBytesMax: 2 * mib, snapshotChunkBytes: mib };
    const [a, b] = [await startNode('n1', options), await startNode('n2', options)];
    connectAll([a, b]);
    const data = pattern(5 * mib + 123, 7);
    send(a, [app('n1', 'n2', 1), snapMessage('n1', 'n2', data), app('n1', 'n2', 2)]);
    await waitFor(() => b.handler.messages.length === 3 && a.handler.snapshotStatus.length === 1, 'snapshot delivery');
    const snap = b.handler.messages.find((m) => m.type === MessageType.Snap);
    expect(snap?.snapshot?.metadata).toEqual({ index: 500, term: 4, confState: { voters: ['n1', 'n2', 'n3'], learners: [] } });
    expect(snap?.snapshot?.data.byteLength).toBe(data.byteLength);
    expect(Buffer.compare(Buffer.from(snap!.snapshot!.data), Buffer.from(data))).toBe(0);
    expect(snap).toMatchObject({ from: 'n1', to: 'n2', term: 4, entries: [] });
    expect(a.handler.snapshotStatus).toEqual([['n2', true]]);
    const stats = a.transport.stats();
    expect(stats.snapshotsSent).toBe(1);
    // Six chunk frames plus the batch frames of the two App messages.
    expect(stats.framesSent).toBeGreaterThanOrEqual(7);
    expect(b.transport.stats().snapshotsReceived).toBe(1);
  });

  it('refuses a second snapshot to a peer while the first is on its way', async () => {
    const options = { messageBytesMax: 2 * mib, snapshotChunkBytes: mib };
    const [a, b] = [await startNode('n1', options), await startNode('n2', options)];
    connectAll([a, b]);
    send(a, [snapMessage('n1', 'n2', pattern(3 * mib, 1)), snapMessage('n1', 'n2', pattern(10, 2))]);
    await waitFor(() => a.handler.snapshotStatus.length === 2 && b.handler.messages.length === 1, 'both statuses');
    expect(a.handler.snapshotStatus).toEqual([
      ['n2', false],
      ['n2', true],
    ]);
    expect(b.handler.messages[0]?.snapshot?.data.byteLength).toBe(3 * mib);
  });

  it('reports a snapshot that cannot reach its peer as failed', async () => {
    const a = await startNode('n1');
    const gone = await startNode('n2');
    await stopNode(gone);
    a.transport.setPeer('n2', gone.address);
    send(a, [snapMessage('n1', 'n2', pattern(3 * mib, 1))]);
    await waitFor(() => a.handler.snapshotStatus.length === 1 && a.handler.unreachable.length === 1, 'failure reports');
    expect(a.handler.snapshotStatus).toEqual([['n2', false]]);
    expect(a.handler.unreachable).toEqual(['n2']);
    // To a peer nobody named, a snapshot fails at once.
    send(a, [snapMessage('n1', 'n7', pattern(10, 1))]);
    await waitFor(() => a.handler.snapshotStatus.length === 2, 'unknown peer');
    expect(a.handler.snapshotStatus[1]).toEqual(['n7', false]);
  });

  it('sends a snapshot under a 4 KiB frame limit', async () => {
    const [a, b] = [await startNode('n1', { messageBytesMax: 4096 }), await startNode('n2', { messageBytesMax: 4096 })];
    connectAll([a, b]);
    const data = pattern(50_000, 9);
    send(a, [snapMessage('n1', 'n2', data)]);
    await waitFor(() => b.handler.messages.length === 1 && a.handler.snapshotStatus.length === 1, 'snapshot');
    expect(Buffer.compare(Buffer.from(b.handler.messages[0]!.snapshot!.data), Buffer.from(data))).toBe(0);
    expect(a.transport.stats().framesSent).toBeGreaterThanOrEqual(25);
  });

  it('sends a 0-byte snapshot as one chunk', async () => {
    const [a, b] = [await startNode('n1'), await startNode('n2')];
    connectAll([a, b]);
    send(a, [snapMessage('n1', 'n2', new Uint8Array(0))]);
    await waitFor(() => b.handler.messages.length === 1 && a.handler.snapshotStatus.length === 1, 'empty snapshot');
    expect(b.handler.messages[0]?.snapshot?.data.byteLength).toBe(0);
    expect(a.transport.stats().framesSent).toBe(1);
    expect(a.handler.snapshotStatus).toEqual([['n2', true]]);
  });

  it('refuses a snapshot beyond snapshotBytesMax on the sending side', async () => {
    const [a, b] = [await startNode('n1', { snapshotBytesMax: 1000 }), await startNode('n2')];
    connectAll([a, b]);
    send(a, [snapMessage('n1', 'n2', new Uint8Array(1001))]);
    await waitFor(() => a.handler.snapshotStatus.length === 1, 'snapshot status');
    expect(a.handler.snapshotStatus).toEqual([['n2', false]]);
    expect(a.transport.stats().framesSent).toBe(0);
  });

  it('drops a snapshot whose crc32c is wrong, and still takes a good one on the same stream', async () => {
    const b = await startNode('n2');
    // A client built from raft.proto by proto-loader, as another implementation would be.
    const definition = protoLoader.loadSync(protoPath('raft.proto'), protoLoaderOptions);
    const RaftPeer = (grpc.loadPackageDefinition(definition) as unknown as { testudo: { raft: { v1: { RaftPeer: grpc.ServiceClientConstructor } } } })
      .testudo.raft.v1.RaftPeer;
    const client = new RaftPeer(b.address, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    const md = new grpc.Metadata();
    for (const [key, value] of Object.entries(peerMetadata('n1'))) md.set(key, value);
    let done!: (error: grpc.ServiceError | null) => void;
    const result = new Promise<grpc.ServiceError | null>((resolve) => (done = resolve));
    const call = (client as unknown as { stream(md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void): grpc.ClientWritableStream<unknown> }).stream(
      md,
      done,
    );

    const data = pattern(3000, 1);
    const header = { type: 'SNAP', from: 'n1', to: 'n2', term: 4 };
    const metadata = { index: 9, term: 4, confState: { voters: ['n1', 'n2'], learners: [] } };
    const chunk = (offset: number, end: number, crc: number) => ({
      chunk: { header, metadata, totalBytes: data.length, offset, data: data.subarray(offset, end), last: end === data.length, crc32c: crc },
    });
    call.write(chunk(0, 1000, 0));
    call.write(chunk(1000, 3000, (crc32c(data) ^ 1) >>> 0));
    await waitFor(() => b.transport.stats().snapshotsRejected === 1, 'crc rejection');
    expect(b.handler.messages).toEqual([]);

    call.write(chunk(0, 2000, 0));
    call.write(chunk(2000, 3000, crc32c(data)));
    await waitFor(() => b.handler.messages.length === 1, 'good snapshot');
    expect(Buffer.compare(Buffer.from(b.handler.messages[0]!.snapshot!.data), Buffer.from(data))).toBe(0);
    expect(b.handler.messages[0]?.snapshot?.metadata.index).toBe(9);
    call.end();
    expect(await result).toBeNull();
  });

  it('reads each peer\'s feature level from its open stream: 0 when it sends none or a malformed one, unknown once the stream ends', async () => {
    expect(() => new GrpcTransport({ clusterId, nodeId: 'nx', advertiseAddress: '127.0.0.1:1', handler: new RecordingHandler(), featureLevel: -1 })).toThrow(RangeError);
    const a = await startNode('n1', { featureLevel: 2 });
    const b = await startNode('n2');
    expect(b.transport.peerFeatureLevel('n1')).toBeNull();
    connectAll([a, b]);
    send(a, [app('n1', 'n2', 1)]);
    await waitFor(() => b.handler.messages.length === 1, 'the message from n1');
    expect(b.transport.peerFeatureLevel('n1')).toBe(2);
    const older = rawStream(b.address, peerMetadata('n3'));
    const malformed = rawStream(b.address, { ...peerMetadata('n4'), 'testudo-feature-level': '1e3' });
    cleanups.push(async () => {
      older.client.close();
      malformed.client.close();
    });
    older.call.write(encodeBatchFrame([app('n3', 'n2', 1)]));
    malformed.call.write(encodeBatchFrame([app('n4', 'n2', 1)]));
    await waitFor(() => b.handler.messages.length === 3, 'the messages from n3 and n4');
    expect(b.transport.peerFeatureLevel('n3')).toBe(0);
    expect(b.transport.peerFeatureLevel('n4')).toBe(0);
    older.call.end();
    await older.result;
    expect(b.transport.peerFeatureLevel('n3')).toBeNull();
    await stopNode(a);
    await waitFor(() => b.transport.peerFeatureLevel('n1') === null, 'n1\'s level forgotten with its stream');
  });

  it('drops chunks with a gap and a partial snapshot cut off by a new one', async () => {
    const b = await startNode('n2', { snapshotBytesMax: 10_000 });
    const { call } = rawStream(b.address, peerMetadata('n1'));
    const data = pattern(4000, 3);
    const header = message({ type: MessageType.Snap, from: 'n1', to: 'n2', term: 2 });
    const metadata = { index: 5, term: 2, confState: { voters: ['n1', 'n2'], learners: [] } };
    const frame = (offset: number, end: number, totalBytes = data.length, last = end === data.length) =>
      encodeChunkFrame({ header, metadata, totalBytes, offset, data: data.subarray(offset, end), last, crc32c: last ? crc32c(data) : 0 });
    call.write(frame(0, 1000));
    call.write(frame(2000, 4000)); // gap: rejected, snapshot dropped
    call.write(frame(0, 100, 20_000)); // beyond snapshotBytesMax
    call.write(frame(0, 1000)); // starts over ...
    call.write(frame(1000, 3000, data.length, false));
    call.write(frame(3000, 4000)); // ... and completes
    await waitFor(() => b.handler.messages.length === 1, 'the complete snapshot');
    expect(b.transport.stats().snapshotsRejected).toBe(2);
    expect(Buffer.compare(Buffer.from(b.handler.messages[0]!.snapshot!.data), Buffer.from(data))).toBe(0);
  });

  it('drops malformed and misaddressed frames without breaking the stream', async () => {
    const b = await startNode('n2');
    const { call } = rawStream(b.address, peerMetadata('n1'));
    call.write(Uint8Array.of(0xff, 0xff, 0xff)); // not protobuf
    call.write(Uint8Array.of(0x0a, 0x04, 0x0a, 0x02, 0x08, 0x63)); // batch of one message of type 99
    call.write(encodeBatchFrame([app('n1', 'n3', 1)])); // addressed to another node
    call.write(encodeBatchFrame([app('n1', 'n2', 2)]));
    await waitFor(() => b.handler.messages.length === 1, 'the good message');
    expect(b.handler.messages[0]?.index).toBe(2);
    expect(b.transport.stats()).toMatchObject({ framesReceived: 4, framesRejected: 3, messagesReceived: 1 });
  });

  it('refuses a stream from another cluster, naming both ids', async () => {
    const b = await startNode('n2');
    const { call, result } = rawStream(b.address, peerMetadata('n1', 'cluster-b'));
    call.write(encodeBatchFrame([app('n1', 'n2', 1)]));
    const error = await result;
    expect(error?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(error?.details).toContain('cluster-a');
    expect(error?.details).toContain('cluster-b');
    expect(b.handler.messages).toEqual([]);
    expect(b.handler.addresses).toEqual([]);

    const anonymous = rawStream(b.address, { 'testudo-cluster-id': clusterId });
    expect((await anonymous.result)?.code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('reports a peer of another cluster unreachable and delivers nothing', async () => {
    const [a, b] = [await startNode('n1', { clusterId: 'cluster-b' }), await startNode('n2')];
    connectAll([a, b]);
    send(a, [app('n1', 'n2', 1)]);
    await waitFor(() => a.handler.unreachable.includes('n2'), 'unreachable');
    expect(b.handler.messages).toEqual([]);
  });

  it('reports a down peer unreachable and resumes once it is back on the same port', async () => {
    const a = await startNode('n1');
    const b1 = await startNode('n2');
    connectAll([a, b1]);
    send(a, [app('n1', 'n2', 1)]);
    await waitFor(() => b1.handler.messages.length === 1, 'first delivery');

    // A crash: connections cut, nothing said goodbye.
    b1.server.forceShutdown();
    await waitFor(() => a.handler.unreachable.includes('n2'), 'unreachable after the peer crashed');
    await stopNode(b1);
    // Sends while the peer is down are dropped (at once during a backoff, or
    // when a new stream fails to connect), not queued forever.
    await waitFor(() => {
      send(a, [app('n1', 'n2', 2)]);
      return a.transport.stats().droppedMessages >= 20;
    }, 'drops while the peer is down');
    expect(a.handler.unreachable.length).toBeGreaterThan(1);

    const b2 = await startNode('n2', {}, b1.port);
    b2.transport.setPeer('n1', a.address);
    let index = 100;
    await waitFor(() => {
      send(a, [app('n1', 'n2', index++)]);
      return b2.handler.messages.length > 0;
    }, 'delivery after restart');
    expect(b2.handler.messages[0]?.from).toBe('n1');
  });

  it('reports a peer whose process was killed as lost, and not a live one or its own close', async () => {
    const a = await startNode('n1');
    const b = await startNode('n2');
    connectAll([a, b]);
    const child = spawn(process.execPath, ['--import', 'tsx', peerProcessPath, a.address, clusterId], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    await waitFor(() => a.handler.messages.some((m) => m.from === 'n9'), 'a message from the peer process', 30_000);
    send(b, [app('n2', 'n1', 1)]);
    await waitFor(() => a.handler.messages.some((m) => m.from === 'n2'), 'a message from n2');
    expect(a.handler.lost).toEqual([]);
    child.kill('SIGKILL');
    await waitFor(() => a.handler.lost.includes('n9'), 'the killed peer reported lost');
    send(b, [app('n2', 'n1', 2)]);
    await waitFor(() => a.handler.messages.filter((m) => m.from === 'n2').length === 2, 'n2 still delivering');
    expect(a.handler.lost).toEqual(['n9']);
    await a.transport.close();
    expect(a.handler.lost).toEqual(['n9']);
  });

  it('drops messages beyond the queue bound and reports the peer unreachable', async () => {
    const [a, b] = [await startNode('n1', { peerQueueMessagesMax: 10 }), await startNode('n2')];
    connectAll([a, b]);
    for (let i = 1; i <= 25; i++) send(a, [app('n1', 'n2', i)]);
    expect(a.transport.stats().droppedMessages).toBe(15);
    await waitFor(() => b.handler.messages.length === 10 && a.handler.unreachable.length > 0, 'delivery of the first 10');
    expect(b.handler.messages.map((m) => m.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // One report per turn of the event loop, however many messages were dropped.
    expect(a.handler.unreachable).toEqual(['n2']);
  });

  it('bounds the queue by bytes as well', async () => {
    const [a, b] = [await startNode('n1', { peerQueueBytesMax: 20_000 }), await startNode('n2')];
    connectAll([a, b]);
    for (let i = 1; i <= 10; i++) send(a, [app('n1', 'n2', i, 4000)]);
    const dropped = a.transport.stats().droppedMessages;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped).toBeLessThan(10);
    await waitFor(() => b.handler.messages.length === 10 - dropped && a.handler.unreachable.length === 1, 'delivery of what fit');
  });

  it('reports a message to an unknown peer unreachable', async () => {
    const a = await startNode('n1');
    send(a, [app('n1', 'n9', 1)]);
    await waitFor(() => a.handler.unreachable.length === 1, 'unreachable');
    expect(a.handler.unreachable).toEqual(['n9']);
    expect(a.transport.stats().droppedMessages).toBe(1);
  });

  it('measures round-trip times with Ping', async () => {
    const startedMs = performance.now();
    const rtts: [NodeId, number][] = [];
    const a = await startNode('n1', { pingIntervalMs: 10, onPeerRoundTrip: (peer, seconds) => rtts.push([peer, seconds]) });
    const b = await startNode('n2');
    a.transport.setPeer('n2', b.address);
    await waitFor(() => rtts.length >= 3, 'three pings');
    // In seconds, and no longer than the test has run so far (a round trip in ms would read 1000 times too long).
    const testRanSeconds = (performance.now() - startedMs) / 1000;
    for (const [peer, seconds] of rtts) {
      expect(peer).toBe('n2');
      expect(seconds).toBeGreaterThan(0);
      expect(seconds).toBeLessThanOrEqual(testRanSeconds);
    }
  });

  it('follows a changed address, forgets a removed peer, and is inert after close', async () => {
    const a = await startNode('n1');
    const b = await startNode('n2');
    const c = await startNode('n2'); // the same node id, moved to another address
    a.transport.setPeer('n2', b.address);
    send(a, [app('n1', 'n2', 1)]);
    await waitFor(() => b.handler.messages.length === 1, 'delivery to the old address');
    a.transport.setPeer('n2', c.address);
    send(a, [app('n1', 'n2', 2)]);
    await waitFor(() => c.handler.messages.length === 1, 'delivery to the new address');
    expect(b.handler.messages.length).toBe(1);

    a.transport.removePeer('n2');
    send(a, [app('n1', 'n2', 3)]);
    await waitFor(() => a.handler.unreachable.includes('n2'), 'unknown after removal');

    await a.transport.close();
    const framesBefore = a.transport.stats().framesSent;
    a.transport.setPeer('n2', c.address);
    send(a, [app('n1', 'n2', 4)]);
    expect(a.transport.stats().framesSent).toBe(framesBefore);
  });

  it('rejects inconsistent options', () => {
    const handler = new RecordingHandler();
    const base = { nodeId: 'n1', clusterId, advertiseAddress: '127.0.0.1:1', handler };
    expect(() => new GrpcTransport({ ...base, messageBytesMax: mib, snapshotChunkBytes: mib })).toThrow(RangeError);
    // Without an explicit chunk size, a small frame limit shrinks the chunk instead.
    void new GrpcTransport({ ...base, messageBytesMax: 4096 }).close();
    expect(() => new GrpcTransport({ ...base, peerQueueMessagesMax: 0 })).toThrow(RangeError);
    expect(() => new GrpcTransport({ ...base, reconnectBackoffMs: { base: 100, max: 10 } })).toThrow(RangeError);
  });
});
