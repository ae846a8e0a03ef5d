// Holding client calls while no leader is known (src/coordinator/leader-wait.ts)
// and how services.ts onLeader uses it: released when a leader is known,
// bounded by one hold, by the call's deadline and by heldCallsMax. Fake timers;
// the real processes (kill -9 of a leader, a cluster without quorum) are in
// test/integration/write-hold.test.ts.
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ServiceError } from '../../src/coordinator/grpc-errors.js';
import { LeaderWait, type LeaderWaitOutcome } from '../../src/coordinator/leader-wait.js';
import type { ForwardMethod, ForwardResponse, ForwardService } from '../../src/coordinator/peer-clients.js';
import { forwardAttemptsMax, forwardedKey, LeaderUnreachableError, onLeader, type ForwardHost } from '../../src/coordinator/services.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Records each outcome as it settles, so a test can see what is still pending. */
function track(p: Promise<LeaderWaitOutcome>): { outcome: LeaderWaitOutcome | null } {
  const box: { outcome: LeaderWaitOutcome | null } = { outcome: null };
  void p.then((o) => (box.outcome = o));
  return box;
}

describe('LeaderWait', () => {
  it('a held call goes on as soon as a leader is known; "no leader" releases nothing', async () => {
    const wait = new LeaderWait({ holdMs: 160 });
    const a = track(wait.wait(10_000));
    const b = track(wait.wait(10_000));
    expect(wait.heldCount).toBe(2);
    wait.leaderChanged('');
    await vi.advanceTimersByTimeAsync(100);
    expect([a.outcome, b.outcome]).toEqual([null, null]);
    wait.leaderChanged('n2');
    await vi.advanceTimersByTimeAsync(0);
    expect([a.outcome, b.outcome]).toEqual(['leader-known', 'leader-known']);
    expect(wait.heldCount).toBe(0);
  });

  it('waits at most holdMs, and never past the call deadline', async () => {
    const wait = new LeaderWait({ holdMs: 160 });
    const long = track(wait.wait(10_000));
    const short = track(wait.wait(40));
    await vi.advanceTimersByTimeAsync(39);
    expect(short.outcome).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(short.outcome).toBe('timed-out');
    await vi.advanceTimersByTimeAsync(119);
    expect(long.outcome).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(long.outcome).toBe('timed-out');
    expect(await wait.wait(0)).toBe('timed-out');
    expect(wait.heldCount).toBe(0);
  });

  it('holds at most heldCallsMax calls; the next is refused at once', async () => {
    const wait = new LeaderWait({ holdMs: 160, heldCallsMax: 2 });
    const held = [track(wait.wait(1000)), track(wait.wait(1000))];
    expect(await wait.wait(1000)).toBe('refused');
    expect(wait.heldCount).toBe(2);
    wait.leaderChanged('n3');
    await vi.advanceTimersByTimeAsync(0);
    expect(held.map((h) => h.outcome)).toEqual(['leader-known', 'leader-known']);
    const again = track(wait.wait(1000));
    expect(wait.heldCount).toBe(1);
    wait.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(again.outcome).toBe('timed-out');
    expect(await wait.wait(1000)).toBe('refused');
  });

  it('refuses bad bounds', () => {
    expect(() => new LeaderWait({ holdMs: -1 })).toThrow(/holdMs/);
    expect(() => new LeaderWait({ holdMs: 10, heldCallsMax: 1.5 })).toThrow(/heldCallsMax/);
  });
});

/** How a forward to one address fails: its gRPC status and details ('No connection established': it was never sent). */
interface Failure {
  readonly code: grpc.status;
  readonly details: string;
}
const notSent = (code: grpc.status): Failure => ({ code, details: 'No connection established' });
const answerLost = (code: grpc.status): Failure => ({ code, details: 'Connection dropped' });

/** A coordinator as onLeader sees it: its role, its leader hint and its wait. */
function fakeHost(
  leaderWait: LeaderWait | undefined,
  failing: ReadonlyMap<string, Failure> = new Map(),
): { host: ForwardHost; elect: (id: string, self: boolean) => void; forwards: string[] } {
  const state = { leaderId: '', isLeader: false };
  const forwards: string[] = [];
  const host: ForwardHost = {
    node: { get isLeader() { return state.isLeader; } },
    peers: {
      // Answers with where it went, whatever the method: not a response of it, hence `as never`.
      forward: <S extends ForwardService, M extends ForwardMethod<S>>(address: string): Promise<ForwardResponse<S, M>> => {
        forwards.push(address);
        const failure = failing.get(address);
        if (failure !== undefined) {
          const { code, details } = failure;
          return Promise.reject(Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata: new grpc.Metadata() }));
        }
        return Promise.resolve({ forwardedTo: address } as never);
      },
    },
    leaderHint: () => ({ leaderId: state.leaderId, leaderAddress: state.leaderId === '' ? '' : `127.0.0.1:700${state.leaderId.slice(1)}` }),
    leaderWait,
  };
  const elect = (id: string, self: boolean): void => {
    state.leaderId = id;
    state.isLeader = self;
    leaderWait?.leaderChanged(id);
  };
  return { host, elect, forwards };
}

/** A call with an empty request (every forwarded request type takes it). */
function fakeCall(deadlineMs: number, forwarded = false): grpc.ServerUnaryCall<Record<string, never>, unknown> {
  const metadata = new grpc.Metadata();
  if (forwarded) metadata.set(forwardedKey, '1');
  return { metadata, request: {}, getDeadline: () => deadlineMs } as unknown as grpc.ServerUnaryCall<Record<string, never>, unknown>;
}

describe('onLeader with a leader wait', () => {
  it('a write that finds no leader runs here once this node is elected', async () => {
    const { host, elect } = fakeHost(new LeaderWait({ holdMs: 160 }));
    const result = onLeader(host, fakeCall(Date.now() + 5000), 'Kv', 'Put', () => Promise.resolve('local'));
    await vi.advanceTimersByTimeAsync(30);
    elect('n2', true);
    expect(await result).toBe('local');
  });

  it('a write that finds no leader is forwarded to the leader elected elsewhere', async () => {
    const { host, elect, forwards } = fakeHost(new LeaderWait({ holdMs: 160 }));
    const result = onLeader(host, fakeCall(Date.now() + 5000), 'Kv', 'Put', () => Promise.resolve('local'));
    await vi.advanceTimersByTimeAsync(50);
    elect('n3', false);
    expect(await result).toEqual({ forwardedTo: '127.0.0.1:7003' });
    expect(forwards).toEqual(['127.0.0.1:7003']);
  });

  it('a forwarded write is not forwarded again: after the wait it is sent back with the new leader hint', async () => {
    const { host, elect } = fakeHost(new LeaderWait({ holdMs: 160 }));
    const result = onLeader(host, fakeCall(Date.now() + 5000, true), 'Kv', 'Put', () => Promise.resolve('local'));
    const settled = expect(result).rejects.toMatchObject({ code: 'not-leader', retryable: true });
    await vi.advanceTimersByTimeAsync(10);
    elect('n1', false);
    await settled;
  });

  it('no leader within the hold: the retryable no-leader error, after the hold and not before', async () => {
    const { host } = fakeHost(new LeaderWait({ holdMs: 160 }));
    let error: unknown = null;
    const result = onLeader(host, fakeCall(Date.now() + 5000), 'Kv', 'Put', () => Promise.resolve('local')).catch((e: unknown) => (error = e));
    await vi.advanceTimersByTimeAsync(159);
    expect(error).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    await result;
    expect(error).toBeInstanceOf(ServiceError);
    expect(error).toMatchObject({ code: 'no-leader', retryable: true, grpcCode: grpc.status.UNAVAILABLE });
  });

  it('without a leader wait it fails at once, as before', async () => {
    const { host } = fakeHost(undefined);
    await expect(onLeader(host, fakeCall(Date.now() + 5000), 'Kv', 'Put', () => Promise.resolve('local'))).rejects.toMatchObject({ code: 'no-leader' });
  });

  it('a call whose deadline is near waits only what is left of it', async () => {
    const { host } = fakeHost(new LeaderWait({ holdMs: 160 }));
    let error: unknown = null;
    const result = onLeader(host, fakeCall(Date.now() + 20), 'Kv', 'Put', () => Promise.resolve('local')).catch((e: unknown) => (error = e));
    await vi.advanceTimersByTimeAsync(19);
    expect(error).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    await result;
    expect(error).toMatchObject({ code: 'no-leader' });
  });

  it('a forward that cannot reach the leader waits for the next leader and goes there', async () => {
    const { host, elect, forwards } = fakeHost(new LeaderWait({ holdMs: 160 }), new Map([['127.0.0.1:7001', notSent(grpc.status.UNAVAILABLE)]]));
    elect('n1', false);
    const result = onLeader(host, fakeCall(Date.now() + 5000), 'Kv', 'Put', () => Promise.resolve('local'));
    await vi.advanceTimersByTimeAsync(15);
    elect('', false); // the dead leader's streams closed
    await vi.advanceTimersByTimeAsync(30);
    elect('n3', false);
    expect(await result).toEqual({ forwardedTo: '127.0.0.1:7003' });
    expect(forwards).toEqual(['127.0.0.1:7001', '127.0.0.1:7003']);
  });

  it('forwards at most forwardAttemptsMax times; a forward that timed out is not sent again', async () => {
    const dead = new Map([['127.0.0.1:7001', notSent(grpc.status.UNAVAILABLE)], ['127.0.0.1:7003', notSent(grpc.status.UNAVAILABLE)]]);
    const twice = fakeHost(new LeaderWait({ holdMs: 160 }), dead);
    twice.elect('n1', false);
    const result = onLeader(twice.host, fakeCall(Date.now() + 5000), 'Kv', 'Put', () => Promise.resolve('local'));
    const settled = expect(result).rejects.toBeInstanceOf(LeaderUnreachableError);
    await vi.advanceTimersByTimeAsync(10);
    twice.elect('n3', false);
    await settled;
    expect(twice.forwards).toEqual(['127.0.0.1:7001', '127.0.0.1:7003']);
    expect(forwardAttemptsMax).toBe(2);

    const late = fakeHost(new LeaderWait({ holdMs: 160 }), new Map([['127.0.0.1:7001', answerLost(grpc.status.DEADLINE_EXCEEDED)]]));
    late.elect('n1', false);
    await expect(onLeader(late.host, fakeCall(Date.now() + 5000), 'Kv', 'Put', () => Promise.resolve('local'))).rejects.toMatchObject({ code: 'forward-lost' });
    expect(late.forwards).toEqual(['127.0.0.1:7001']);
  });
});

describe('onLeader: what a failed forward tells the client', () => {
  const put = (host: ForwardHost): Promise<unknown> => onLeader(host, fakeCall(Date.now() + 5000), 'Kv', 'Put', () => Promise.resolve('local'));
  const addMember = (host: ForwardHost): Promise<unknown> => onLeader(host, fakeCall(Date.now() + 5000), 'Cluster', 'AddMember', () => Promise.resolve('local'));

  it.each([
    ['never sent (no connection)', notSent(grpc.status.UNAVAILABLE), 'not-leader', false],
    ['connection dropped after sending', answerLost(grpc.status.UNAVAILABLE), 'forward-lost', true],
    ['deadline passed', answerLost(grpc.status.DEADLINE_EXCEEDED), 'forward-lost', true],
    ['cancelled by the leader', answerLost(grpc.status.CANCELLED), 'forward-lost', true],
  ])('%s: %s', async (_name, failure, code, maybeApplied) => {
    const { host, elect } = fakeHost(undefined, new Map([['127.0.0.1:7001', failure]]));
    elect('n1', false);
    const error = await put(host).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaderUnreachableError);
    expect(error).toMatchObject({ code, maybeApplied, retryable: true, grpcCode: grpc.status.UNAVAILABLE });
  });

  it('an admin change whose answer was lost is not forwarded again: forward-lost at once', async () => {
    const { host, elect, forwards } = fakeHost(new LeaderWait({ holdMs: 160 }), new Map([['127.0.0.1:7001', answerLost(grpc.status.UNAVAILABLE)]]));
    elect('n1', false);
    await expect(addMember(host)).rejects.toMatchObject({ code: 'forward-lost' });
    expect(forwards).toEqual(['127.0.0.1:7001']);
  });

  it('an admin change that was never sent waits for the next leader and goes there', async () => {
    const { host, elect, forwards } = fakeHost(new LeaderWait({ holdMs: 160 }), new Map([['127.0.0.1:7001', notSent(grpc.status.UNAVAILABLE)]]));
    elect('n1', false);
    const result = addMember(host);
    await vi.advanceTimersByTimeAsync(10);
    elect('n3', false);
    expect(await result).toEqual({ forwardedTo: '127.0.0.1:7003' });
    expect(forwards).toEqual(['127.0.0.1:7001', '127.0.0.1:7003']);
  });

  it('after a write whose answer was lost, a refusal that would say "nothing applied" is answered forward-lost instead', async () => {
    const noLeaderAfter = fakeHost(new LeaderWait({ holdMs: 160 }), new Map([['127.0.0.1:7001', answerLost(grpc.status.UNAVAILABLE)]]));
    noLeaderAfter.elect('n1', false);
    const held = put(noLeaderAfter.host);
    const settled = expect(held).rejects.toMatchObject({ code: 'forward-lost' });
    await vi.advanceTimersByTimeAsync(5);
    noLeaderAfter.elect('', false);
    // The hold after the lost forward, then the hold of a call that finds no leader.
    await vi.advanceTimersByTimeAsync(2 * 160);
    await settled;

    const failing = new Map([['127.0.0.1:7001', answerLost(grpc.status.UNAVAILABLE)], ['127.0.0.1:7003', notSent(grpc.status.UNAVAILABLE)]]);
    const unsentAfter = fakeHost(new LeaderWait({ holdMs: 160 }), failing);
    unsentAfter.elect('n1', false);
    const twice = put(unsentAfter.host);
    const settledTwice = expect(twice).rejects.toMatchObject({ code: 'forward-lost', address: '127.0.0.1:7001' });
    await vi.advanceTimersByTimeAsync(10);
    unsentAfter.elect('n3', false);
    await settledTwice;
    expect(unsentAfter.forwards).toEqual(['127.0.0.1:7001', '127.0.0.1:7003']);
  });
});
