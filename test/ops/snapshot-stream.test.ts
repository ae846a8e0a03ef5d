import { createHash } from 'node:crypto';
import { Server, ServerCredentials, type ServerWritableStream, type ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
import { RetriesExhaustedError, TestudoClient } from '../../src/client/index.js';
import { protoLoaderOptions, protoPath } from '../../src/common/protos.js';

/**
 * The client's side of Cluster.SaveSnapshot against a real gRPC server whose
 * stream is scripted: a whole copy in several chunks is reassembled, and a
 * copy whose bytes do not match the header's SHA-256, or that ends short, is
 * refused (retried, then given up), never returned.
 */

type Chunk = { header: Record<string, unknown> | null; data: Buffer };
type Script = (call: ServerWritableStream<unknown, Chunk>) => Chunk[];

const servers: Server[] = [];
const clients: TestudoClient[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) s.forceShutdown();
});

async function serve(script: Script): Promise<string> {
  const cluster = loadSync(protoPath('testudo.proto'), protoLoaderOptions)['testudo.v1.Cluster'] as ServiceDefinition;
  const server = new Server();
  server.addService(cluster, {
    SaveSnapshot: (call: ServerWritableStream<unknown, Chunk>) => {
      for (const chunk of script(call)) call.write(chunk);
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  servers.push(server);
  return `127.0.0.1:${port}`;
}

function client(endpoint: string, token?: string): TestudoClient {
  const c = new TestudoClient({ endpoints: [endpoint], callTimeoutMs: 2_000, totalTimeoutMs: 5_000, retry: { attemptsMax: 2, backoffBaseMs: 1, backoffMaxMs: 5 }, ...(token === undefined ? {} : { token }) });
  clients.push(c);
  return c;
}

const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));
const header = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  clusterId: 'c1',
  index: 42,
  term: 3,
  dataBytes: data.byteLength,
  dataSha256: createHash('sha256').update(data).digest('hex'),
  servedBy: 'n2',
  leaderId: 'n1',
  savedAtMs: 1_700_000_000_000,
  ...over,
});
const chunks = (h: Record<string, unknown>, bytes: Buffer): Chunk[] => [
  { header: h, data: bytes.subarray(0, 1000) },
  { header: null, data: bytes.subarray(1000, 2000) },
  { header: null, data: bytes.subarray(2000) },
];

describe('TestudoClient.saveSnapshot', () => {
  it('reassembles a copy sent in chunks, with its header', async () => {
    const saved = await client(await serve(() => chunks(header(), data))).saveSnapshot();
    expect(saved).toMatchObject({ clusterId: 'c1', index: 42, term: 3, servedBy: 'n2', leaderId: 'n1', dataBytes: 3000 });
    expect(Buffer.from(saved.data).equals(data)).toBe(true);
  });

  it("presents the client's token (SaveSnapshot is an admin call)", async () => {
    const presented: unknown[] = [];
    const endpoint = await serve((call) => {
      presented.push(...call.metadata.get('authorization'));
      return chunks(header(), data);
    });
    await client(endpoint, 'admin-token-1234567890abcdef').saveSnapshot();
    await client(endpoint).saveSnapshot();
    expect(presented).toEqual(['Bearer admin-token-1234567890abcdef']);
  });

  it('refuses a copy whose bytes do not match the SHA-256 of its header', async () => {
    const damaged = Buffer.from(data);
    damaged[1500] = damaged[1500]! ^ 0x10;
    const error = await client(await serve(() => chunks(header(), damaged))).saveSnapshot().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as Error).message).toMatch(/does not match the SHA-256/);
  });

  it('refuses a copy that ends short of the bytes its header announced, or sends more', async () => {
    const short = await client(await serve(() => chunks(header(), data).slice(0, 2))).saveSnapshot().catch((e: unknown) => e);
    expect((short as Error).message).toMatch(/ended after 2000 of 3000 bytes/);
    const long = await client(await serve(() => chunks(header({ dataBytes: 2500 }), data))).saveSnapshot().catch((e: unknown) => e);
    expect((long as Error).message).toMatch(/more than the 2500 bytes/);
  });
});
