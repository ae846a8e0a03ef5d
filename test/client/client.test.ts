import { status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClientClosedError,
  ConfChangeRefusedError,
  DeadlineExceededError,
  InvalidArgumentError,
  NoLeaderError,
  NotFoundError,
  NotLeaderError,
  RetriesExhaustedError,
  TestudoClient,
  AddressRoutes,
  routesMax,
  TestudoError,
  UnavailableError,
  channelsMax,
  type TestudoClientOptions,
} from '../../src/client/index.js';
import {
  FakeNode,
  deadEndpoint,
  defaultAnswer,
  failure,
  noLeader,
  notLeader,
  ok,
  type Received,
  type Script,
} from './fake-node.js';
import { resolveClientOptions } from '../../src/client/args.js';
import { Connection } from '../../src/client/connection.js';
import { methods } from '../../src/client/rpc.js';

const nodes: FakeNode[] = [];
const clients: TestudoClient[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const node of nodes.splice(0)) node.stop();
});

async function node(id: string, script: Script, log?: Received[]): Promise<FakeNode> {
  const started = await FakeNode.start(id, script, log);
  nodes.push(started);
  return started;
}

function client(endpoints: string[], options: Partial<TestudoClientOptions> = {}): TestudoClient {
  const created = new TestudoClient({ endpoints, retry: { backoffBaseMs: 1, backoffMaxMs: 5 }, ...options });
  clients.push(created);
  return created;
}

/** Answers `reply` for the first `times` requests, then the default answer. */
function firstTimes(times: number, reply: (n: FakeNode) => ReturnType<Script>): Script {
  return (method, _request, n) => (n.received.length <= times ? reply(n) : defaultAnswer(method, n));
}

const serve: Script = (method, _request, n) => defaultAnswer(method, n);

async function rejection(promise: Promise<unknown>): Promise<TestudoError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TestudoError);
    return error as TestudoError;
  }
  throw new Error('expected the call to fail');
}

describe('leader hints', () => {
  it('redirects to the hinted leader at once, then prefers it', async () => {
    const b = await node('b', serve);
    const a = await node('a', () => notLeader(b));
    // The first redirect must not wait: a backoff drawn up to an hour would outlast the call's 30 s total timeout.
    const c = client([a.address, b.address], { retry: { backoffBaseMs: 3_600_000, backoffMaxMs: 3_600_000 } });
    await expect(c.put('k', 'v')).resolves.toEqual({ index: 7, duplicate: false });
    expect([a.count('Put'), b.count('Put')]).toEqual([1, 1]);
    expect(c.preferredEndpoint).toBe(b.address);
    expect(c.leaderId).toBe('b');

    await c.put('k2', 'v');
    expect([a.count('Put'), b.count('Put')]).toEqual([1, 2]);
  });

  it('follows each newly hinted leader at once: a leader that lost office hints at the next one', async () => {
    const c3 = await node('c', serve);
    const b = await node('b', () => notLeader(c3));
    const a = await node('a', () => notLeader(b));
    // Any backoff here (drawn up to an hour) would outlast the 30 s total timeout.
    const c = client([a.address], { retry: { backoffBaseMs: 3_600_000, backoffMaxMs: 3_600_000 } });
    await expect(c.put('k', 'v')).resolves.toEqual({ index: 7, duplicate: false });
    expect([a.count('Put'), b.count('Put'), c3.count('Put')]).toEqual([1, 1, 1]);
    // The write's one idempotency key went with every attempt.
    const keys = [a, b, c3].map((n) => n.received.find((r) => r.method === 'Put')?.request.idempotencyKey);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toEqual(expect.any(String));
  });

  it('backs off before following a hint it already followed (nodes pointing at each other)', async () => {
    let b: FakeNode | null = null;
    const a = await node('a', () => notLeader(b!));
    b = await node('b', () => notLeader(a));
    const c = client([a.address], { totalTimeoutMs: 2_000, retry: { backoffBaseMs: 3_600_000, backoffMaxMs: 3_600_000 } });
    // a → b (new hint, at once) → a (new hint, at once) → b again: a backoff far past the total timeout.
    expect(await rejection(c.put('k', 'v'))).toBeInstanceOf(DeadlineExceededError);
    expect([a.count('Put'), b.count('Put')]).toEqual([2, 1]);
  });

  it('uses a hinted address that is not among the configured endpoints', async () => {
    const grown = await node('d', serve);
    const a = await node('a', () => notLeader(grown));
    const c = client([a.address]);
    await c.delete('k');
    expect(grown.count('Delete')).toBe(1);
    expect(c.preferredEndpoint).toBe(grown.address);
  });

  it('moves the preferred endpoint to the leader named by a successful answer', async () => {
    const b = await node('b', serve);
    // A follower that forwards the write and says who leads.
    const a = await node('a', (method, _request, n) => ok({ ...okBody(method, n) }, { id: 'b', address: b.address }));
    const c = client([a.address, b.address]);
    await c.put('k', 'v1');
    expect(c.preferredEndpoint).toBe(b.address);
    await c.put('k', 'v2');
    await c.get('k');
    expect([a.received.length, b.received.length]).toEqual([1, 2]);
  });
});

function okBody(method: Parameters<Script>[0], n: FakeNode): Record<string, unknown> {
  const reply = defaultAnswer(method, n);
  if (!('ok' in reply)) throw new Error('default answer is not ok');
  return reply.ok;
}

describe('rotation and backoff', () => {
  it('rotates through the endpoints when no leader is known', async () => {
    const log: Received[] = [];
    const a = await node('a', () => noLeader(), log);
    const b = await node('b', firstTimes(1, () => noLeader()), log);
    const c = client([a.address, b.address]);
    await c.put('k', 'v');
    expect(log.map((r) => r.node)).toEqual(['a', 'b', 'a', 'b']);
    // b answered last: the next operation starts there.
    expect(c.preferredEndpoint).toBe(b.address);
  });

  it('skips an endpoint that refuses connections', async () => {
    const dead = await deadEndpoint();
    const a = await node('a', serve);
    const c = client([dead, a.address]);
    await expect(c.put('k', 'v')).resolves.toMatchObject({ index: 7 });
    expect(c.preferredEndpoint).toBe(a.address);
    await c.get('k');
    expect(a.received.length).toBe(2);
  });

  it('retries an overloaded leader in place, with backoff', async () => {
    const b = await node('b', serve);
    const a = await node('a', firstTimes(2, () => failure(GrpcStatus.RESOURCE_EXHAUSTED, 'too-many-requests', true)));
    const c = client([a.address, b.address]);
    await c.put('k', 'v');
    expect([a.count('Put'), b.count('Put')]).toEqual([3, 0]);
  });

  it('retries a read that timed out on another node', async () => {
    const b = await node('b', serve);
    const a = await node('a', () => ({ hang: true }));
    const c = client([a.address, b.address], { callTimeoutMs: 200 });
    await expect(c.get('k')).resolves.toMatchObject({ found: false, servedBy: 'b' });
  });
});

describe('idempotency keys', () => {
  it('sends one key on every retry of a write and a new key per write', async () => {
    const a = await node('a', firstTimes(2, () => failure(GrpcStatus.UNAVAILABLE, 'leadership-lost', true)));
    const c = client([a.address], { clientId: 'client-7' });
    await c.put('k', 'v1');
    await c.put('k', 'v2');
    await c.delete('k');
    const keys = a.received.map((r) => r.request['idempotencyKey']);
    expect(keys).toHaveLength(5);
    expect(keys.slice(0, 3)).toEqual(['client-7-1', 'client-7-1', 'client-7-1']);
    expect(new Set(keys).size).toBe(3);
  });

  it('keeps the caller key across retries on other nodes', async () => {
    const b = await node('b', serve);
    const a = await node('a', () => notLeader(b));
    const c = client([a.address, b.address]);
    await c.put('k', 'v', { idempotencyKey: 'mine' });
    expect([...a.received, ...b.received].map((r) => r.request['idempotencyKey'])).toEqual(['mine', 'mine']);
  });

  it('applies once a write whose first answer was lost', async () => {
    const applied = new Map<string, number>();
    let answersLost = 1;
    const a = await node('a', (method, request) => {
      if (method !== 'Put') return failure(GrpcStatus.UNIMPLEMENTED);
      const key = String(request['idempotencyKey']);
      const earlier = applied.get(key);
      if (earlier !== undefined) return ok({ index: earlier, duplicate: true });
      applied.set(key, applied.size + 1);
      if (answersLost-- > 0) return failure(GrpcStatus.UNAVAILABLE, 'leadership-lost', true);
      return ok({ index: applied.size, duplicate: false });
    });
    const c = client([a.address]);
    await expect(c.put('k', 'v')).resolves.toEqual({ index: 1, duplicate: true });
    expect(applied.size).toBe(1);
  });

  it('generates distinct keys for 64 concurrent callers on one client', async () => {
    const a = await node('a', serve);
    const c = client([a.address]);
    await Promise.all(
      Array.from({ length: 64 }, async (_, caller) => {
        for (let i = 0; i < 20; i++) await c.put(`k${caller}`, 'v');
      }),
    );
    expect(new Set(a.received.map((r) => r.request['idempotencyKey'])).size).toBe(64 * 20);
  });
});

describe('bounds', () => {
  it('gives up after attemptsMax with the last error as cause', async () => {
    const a = await node('a', () => noLeader());
    const c = client([a.address], { retry: { attemptsMax: 3, backoffBaseMs: 1, backoffMaxMs: 2 } });
    const error = await rejection(c.put('k', 'v'));
    expect(error).toBeInstanceOf(RetriesExhaustedError);
    expect((error as RetriesExhaustedError).attempts).toBe(3);
    expect(error.cause).toBeInstanceOf(NoLeaderError);
    expect(error.code).toBe('no-leader');
    expect(a.received.length).toBe(3);
  });

  it('gives up at totalTimeoutMs', async () => {
    const a = await node('a', () => noLeader());
    // A second leaves room for several attempts on a loaded machine; it may give up one backoff (≤ 20 ms) early.
    const c = client([a.address], { totalTimeoutMs: 1_000, retry: { attemptsMax: 10_000, backoffBaseMs: 10, backoffMaxMs: 20 } });
    const startMs = Date.now();
    const error = await rejection(c.put('k', 'v'));
    const elapsedMs = Date.now() - startMs;
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(error.cause).toBeInstanceOf(NoLeaderError);
    expect(elapsedMs).toBeGreaterThanOrEqual(950);
    expect(a.received.length).toBeGreaterThan(2);
  });

  it('cuts the last attempt short at totalTimeoutMs', async () => {
    const a = await node('a', () => ({ hang: true }));
    // The server never answers and a call may last an hour: only the total timeout can end this one.
    const c = client([a.address], { callTimeoutMs: 3_600_000, totalTimeoutMs: 300 });
    const error = await rejection(c.get('k'));
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(a.received.length).toBe(1);
  });
});

describe('batched puts against a server without Kv.PutMany (an older coordinator)', () => {
  it('sends the batch one put at a time and sends every later put alone', async () => {
    const a = await node('a', (method, _request, n) => defaultAnswer(method, n));
    const c = client([a.address]);
    const first = await Promise.all(['k1', 'k2', 'k3'].map((k) => c.put(k, 'v')));
    expect(first).toEqual([0, 1, 2].map(() => ({ index: 7, duplicate: false })));
    // The one PutMany was refused (UNIMPLEMENTED: this server has no such method); its three puts went as Kv.Put.
    expect(c.writeBatches).toEqual({ calls: 1, writes: 3 });
    expect(a.count('Put')).toBe(3);
    await Promise.all(['k4', 'k5'].map((k) => c.put(k, 'v')));
    expect(c.writeBatches.calls).toBe(1);
    expect(a.count('Put')).toBe(5);
    expect(a.received.map((r) => r.request['key'])).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
  });
});

describe('an operation that began earlier (a put that waited for a batch)', () => {
  it('counts totalTimeoutMs from when it began', async () => {
    // The server never answers: only the total deadline ends the call. It began a full minute ago, so it
    // has no time left and fails at once; counted from now it would hang for a minute (the race says so).
    const a = await node('a', () => ({ hang: true }));
    const resolved = resolveClientOptions({ endpoints: [a.address], callTimeoutMs: 3_600_000, totalTimeoutMs: 60_000 });
    const conn = new Connection(resolved.connection);
    try {
      const began = Date.now() - 60_000;
      const call = conn.invoke('write', methods().put, { key: 'k', value: Buffer.from('v'), idempotencyKey: 'x-1' }, { startedAtMs: began });
      const outcome = await Promise.race([call.then(() => 'answered', (error: unknown) => error), new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000))]);
      expect(outcome).toBeInstanceOf(DeadlineExceededError);
      void call.catch(() => undefined);
    } finally {
      conn.close();
    }
  });
});

describe('errors that are not retried', () => {
  it.each([
    ['invalid', GrpcStatus.INVALID_ARGUMENT, InvalidArgumentError],
    [undefined, GrpcStatus.INVALID_ARGUMENT, InvalidArgumentError],
    ['not-found', GrpcStatus.NOT_FOUND, NotFoundError],
    [undefined, GrpcStatus.UNIMPLEMENTED, TestudoError],
    [undefined, GrpcStatus.INTERNAL, TestudoError],
  ])('%s (status %i) is raised at once', async (testudoError, code, errorClass) => {
    const b = await node('b', serve);
    const a = await node('a', () => failure(code, testudoError));
    const c = client([a.address, b.address]);
    const error = await rejection(c.put('k', 'v'));
    expect(error).toBeInstanceOf(errorClass);
    expect(error.retryable).toBe(false);
    expect(error.code).toBe(testudoError ?? GrpcStatus[code]);
    expect(error.endpoint).toBe(a.address);
    expect([a.received.length, b.received.length]).toEqual([1, 0]);
  });

  it('raises a refused membership change at once', async () => {
    const a = await node('a', () => failure(GrpcStatus.FAILED_PRECONDITION, 'conf-change'));
    const c = client([a.address]);
    const error = await rejection(c.addMember({ id: 'n4', address: '127.0.0.1:7004' }));
    expect(error).toBeInstanceOf(ConfChangeRefusedError);
    expect(error.name).toBe('ConfChangeRefusedError');
    expect(a.received.length).toBe(1);
  });

  it('respects testudo-retryable=false on an otherwise retryable error', async () => {
    const b = await node('b', serve);
    const a = await node('a', () => ({
      error: { code: GrpcStatus.UNAVAILABLE, testudoError: 'not-leader', retryable: false, leaderAddress: b.address },
    }));
    const c = client([a.address, b.address]);
    const error = await rejection(c.get('k'));
    expect(error).toBeInstanceOf(NotLeaderError);
    expect(error.leaderAddress).toBe(b.address);
    expect(b.received.length).toBe(0);
  });
});

describe('admin calls', () => {
  it('are not retried after DEADLINE_EXCEEDED', async () => {
    const b = await node('b', serve);
    const a = await node('a', () => ({ hang: true }));
    const c = client([a.address, b.address], { callTimeoutMs: 200 });
    const error = await rejection(c.transferLeader('n2'));
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect([a.received.length, b.received.length]).toEqual([1, 0]);
  });

  it('are not retried after the server timed out or the connection broke mid-call', async () => {
    const b = await node('b', serve);
    const a = await node('a', (method) =>
      method === 'AddMember' ? failure(GrpcStatus.DEADLINE_EXCEEDED, 'timeout', true) : { error: { code: GrpcStatus.UNAVAILABLE, details: 'Connection dropped' } },
    );
    const c = client([a.address, b.address]);
    expect(await rejection(c.addMember({ id: 'n4', address: '127.0.0.1:7004' }))).toBeInstanceOf(DeadlineExceededError);
    expect(await rejection(c.removeMember('n3'))).toBeInstanceOf(UnavailableError);
    expect([a.received.length, b.received.length]).toEqual([2, 0]);
  });

  it('follow not-leader hints and skip unreachable nodes', async () => {
    const b = await node('b', serve);
    const a = await node('a', () => notLeader(b));
    const dead = await deadEndpoint();
    const c = client([dead, a.address]);
    await expect(c.transferLeader('n2')).resolves.toEqual({ leaderId: 'x', term: 4 });
    expect(b.received.map((r) => r.request)).toEqual([{ to: 'n2' }]);
    await expect(c.removeMember('n3')).resolves.toEqual({ members: [] });
    expect(b.count('RemoveMember')).toBe(1);
  });

  it('memberStatus asks only the node named', async () => {
    const a = await node('a', serve);
    const b = await node('b', serve);
    const dead = await deadEndpoint();
    const c = client([a.address, b.address]);
    await expect(c.memberStatus(b.address)).resolves.toMatchObject({ id: 'b', role: 'leader', term: 3 });
    await expect(c.memberStatus()).resolves.toMatchObject({ id: 'a' });
    expect(await rejection(c.memberStatus(dead))).toBeInstanceOf(UnavailableError);
    expect([a.received.length, b.received.length]).toEqual([1, 1]);
  });

  it('keeps at most channelsMax channels open', async () => {
    const a = await node('a', serve);
    // Refused ports fail at once; the bound is for the live call at the end, which a loaded machine may slow.
    const c = client([a.address], { callTimeoutMs: 5_000 });
    const dead = await deadEndpoint();
    const port = Number(dead.split(':')[1]);
    // Distinct names for one refused port: each gets its own channel.
    const names = Array.from({ length: channelsMax + 5 }, (_, i) => `127.0.0.${2 + i}:${port}`);
    await Promise.allSettled(names.map((endpoint) => c.memberStatus(endpoint)));
    expect(c.channelCount).toBeLessThanOrEqual(channelsMax);
    await expect(c.memberStatus()).resolves.toMatchObject({ id: 'a' });
  });

  it('clusterStatus retries like a read', async () => {
    const a = await node('a', firstTimes(1, () => noLeader()));
    const c = client([a.address]);
    await expect(c.clusterStatus()).resolves.toMatchObject({ leaderId: 'a', term: 3, servedBy: 'a' });
  });
});

describe('key-value calls', () => {
  it('passes the stale flag and list options through', async () => {
    const a = await node('a', serve);
    const c = client([a.address]);
    await c.get('k');
    await c.get('k', { stale: true });
    await c.list({ prefix: 'p/', startAfter: 'p/3', limit: 5, stale: true });
    expect(a.received.map((r) => r.request)).toEqual([
      { key: 'k', stale: false },
      { key: 'k', stale: true },
      { prefix: 'p/', startAfter: 'p/3', limit: 5, stale: true },
    ]);
  });

  it('sends strings as UTF-8 and returns values as bytes', async () => {
    const stored = new Map<string, Uint8Array>();
    const a = await node('a', (method, request, n) => {
      const key = String(request['key']);
      if (method === 'Put') stored.set(key, request['value'] as Uint8Array);
      if (method !== 'Get') return defaultAnswer(method, n);
      const value = stored.get(key);
      return value === undefined
        ? ok({ found: false, appliedIndex: 3, servedBy: 'a' })
        : ok({ found: true, item: { key, value, modIndex: 2 }, appliedIndex: 3, servedBy: 'a' });
    });
    const c = client([a.address]);
    await c.put('s', 'héllo');
    await c.put('b', new Uint8Array([0, 255]));
    const got = await c.get('s');
    expect(got).toMatchObject({ found: true, modIndex: 2, appliedIndex: 3, servedBy: 'a' });
    expect(Buffer.from(got.value ?? []).toString('utf8')).toBe('héllo');
    expect([...((await c.get('b')).value ?? [])]).toEqual([0, 255]);
    await expect(c.get('none')).resolves.toEqual({ found: false, appliedIndex: 3, servedBy: 'a' });
  });

  it('listAll pages with startAfter', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `p/${String(i).padStart(2, '0')}`);
    const a = await node('a', (method, request) => {
      if (method !== 'List') return failure(GrpcStatus.UNIMPLEMENTED);
      const after = String(request['startAfter']);
      const limit = Number(request['limit']);
      const matching = keys.filter((k) => k.startsWith(String(request['prefix'])) && k > after);
      const items = matching.slice(0, limit).map((key) => ({ key, value: Buffer.from(key), modIndex: 1 }));
      return ok({ items, more: matching.length > limit, appliedIndex: 5, servedBy: 'a' });
    });
    const c = client([a.address]);
    const seen: string[] = [];
    for await (const item of c.listAll({ prefix: 'p/', pageSize: 10 })) seen.push(item.key);
    expect(seen).toEqual(keys);
    expect(a.received.map((r) => r.request['startAfter'])).toEqual(['', 'p/09', 'p/19']);
  });
});

describe('close', () => {
  it('stops an operation waiting in backoff and refuses later calls', async () => {
    const a = await node('a', () => noLeader());
    // A backoff of up to an hour within a day's total timeout: only close() can end this wait before the test's own timeout.
    const c = client([a.address], { totalTimeoutMs: 24 * 3_600_000, retry: { backoffBaseMs: 3_600_000, backoffMaxMs: 3_600_000 } });
    const pending = rejection(c.put('k', 'v'));
    await a.receivedAtLeast(1);
    c.close();
    expect(await pending).toBeInstanceOf(ClientClosedError);
    expect(await rejection(c.get('k'))).toBeInstanceOf(ClientClosedError);
  });
});

describe('address routes', () => {
  it('dials the route of an endpoint and of a leader hint, keeping the real addresses as identities', async () => {
    const viaB = await node('b-proxy', serve);
    const b = await node('b', serve);
    const a = await node('a', () => notLeader(b));
    // a is reached directly; b's real address is routed to another node (a stand-in for a proxy).
    const c = client([a.address], { routes: AddressRoutes.from({ [b.address]: viaB.address }) });
    await c.put('k', 'v');
    expect([a.count('Put'), b.count('Put'), viaB.count('Put')]).toEqual([1, 0, 1]);
    expect(c.preferredEndpoint).toBe(b.address);
  });

  it('parses from=via lists and refuses malformed ones with the reason', () => {
    const routes = AddressRoutes.parse('127.0.0.1:7001=127.0.0.1:17001, 127.0.0.1:7002=127.0.0.1:17002');
    expect(routes.dial('127.0.0.1:7001')).toBe('127.0.0.1:17001');
    expect(routes.dial('127.0.0.1:7003')).toBe('127.0.0.1:7003');
    expect(routes.toString()).toBe('127.0.0.1:7001=127.0.0.1:17001,127.0.0.1:7002=127.0.0.1:17002');
    expect(AddressRoutes.parse('').size).toBe(0);
    expect(() => AddressRoutes.parse('127.0.0.1:7001')).toThrow(/is not "host:port=host:port"/);
    expect(() => AddressRoutes.parse('127.0.0.1:7001=nope')).toThrow(/"nope" is not "host:port"/);
    expect(() => AddressRoutes.parse('127.0.0.1:7001=127.0.0.1:1,127.0.0.1:7001=127.0.0.1:2')).toThrow(/two routes for 127.0.0.1:7001/);
    const many = Array.from({ length: routesMax + 1 }, (_, i) => `127.0.0.1:${1000 + i}=127.0.0.1:${3000 + i}`).join(',');
    expect(() => AddressRoutes.parse(many)).toThrow(/at most 64 routes/);
  });
});
