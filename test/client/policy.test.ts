import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DeadlineExceededError,
  ForwardLostError,
  InvalidArgumentError,
  LeadershipLostError,
  MessageTooLargeError,
  NoLeaderError,
  NotLeaderError,
  OverloadedError,
  ProposalDroppedError,
  RETRY_DEFAULTS,
  TestudoClient,
  TestudoError,
  UnavailableError,
  type CallKind,
} from '../../src/client/index.js';
import { errorFromStatus } from '../../src/client/errors.js';
import { endpointProblem } from '../../src/client/endpoints.js';
import { backoffDelayMs, shouldRetry } from '../../src/client/retry.js';
import { FakeNode, defaultAnswer } from './fake-node.js';

function status(code: GrpcStatus, details: string, trailers: Record<string, string> = {}) {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value);
  return { code, details, metadata };
}

describe('backoffDelayMs', () => {
  const options = { ...RETRY_DEFAULTS, backoffBaseMs: 20, backoffMaxMs: 1000 };

  it('doubles its ceiling per retry up to backoffMaxMs', () => {
    const almostOne = (): number => 0.999_999;
    expect([0, 1, 2, 3, 4, 5, 6, 60].map((retry) => backoffDelayMs(retry, options, almostOne))).toEqual([
      19, 39, 79, 159, 319, 639, 999, 999,
    ]);
  });

  it('is fully jittered: anywhere from zero', () => {
    expect(backoffDelayMs(5, options, () => 0)).toBe(0);
    expect(backoffDelayMs(5, options, () => 0.5)).toBe(320);
  });
});

describe('errorFromStatus', () => {
  it.each([
    ['not-leader', NotLeaderError, true],
    ['no-leader', NoLeaderError, true],
    ['leadership-lost', LeadershipLostError, true],
    ['proposal-dropped', ProposalDroppedError, true],
    ['too-many-requests', OverloadedError, true],
    ['timeout', DeadlineExceededError, true],
    ['invalid', InvalidArgumentError, false],
    ['stopping', UnavailableError, true],
    ['forward-lost', ForwardLostError, true],
  ])('classifies testudo-error %s', (code, errorClass, retryable) => {
    const error = errorFromStatus(
      status(GrpcStatus.UNAVAILABLE, 'x', {
        'testudo-error': code,
        'testudo-retryable': String(retryable),
        'testudo-leader-id': 'n2',
        'testudo-leader-address': '127.0.0.1:7002',
      }),
      '127.0.0.1:7001',
    );
    expect(error).toBeInstanceOf(errorClass);
    expect(error).toMatchObject({ code, retryable, leaderId: 'n2', leaderAddress: '127.0.0.1:7002', endpoint: '127.0.0.1:7001' });
    expect(error.name).toBe(errorClass.name);
  });

  it('uses the class default when testudo-retryable is absent, and keeps unknown codes', () => {
    expect(errorFromStatus(status(GrpcStatus.UNAVAILABLE, 'x', { 'testudo-error': 'no-leader' }), 'e').retryable).toBe(true);
    const unknown = errorFromStatus(status(GrpcStatus.ABORTED, 'x', { 'testudo-error': 'future-thing' }), 'e');
    expect(unknown.constructor).toBe(TestudoError);
    expect(unknown).toMatchObject({ code: 'future-thing', retryable: false, grpcCode: GrpcStatus.ABORTED });
  });

  it('tells a connection that never opened from one that broke mid-call', () => {
    const notSent = errorFromStatus(status(GrpcStatus.UNAVAILABLE, 'No connection established. Last error: ECONNREFUSED'), 'e');
    const dropped = errorFromStatus(status(GrpcStatus.UNAVAILABLE, 'Connection dropped'), 'e');
    expect(notSent).toBeInstanceOf(UnavailableError);
    expect((notSent as UnavailableError).beforeSend).toBe(true);
    expect((dropped as UnavailableError).beforeSend).toBe(false);
    expect(notSent.code).toBe('UNAVAILABLE');
  });

  it('tells load shedding from an over-size message', () => {
    expect(errorFromStatus(status(GrpcStatus.RESOURCE_EXHAUSTED, 'busy'), 'e')).toBeInstanceOf(OverloadedError);
    const tooLarge = errorFromStatus(status(GrpcStatus.RESOURCE_EXHAUSTED, 'Received message larger than max (9 vs 8)'), 'e');
    expect(tooLarge).toBeInstanceOf(MessageTooLargeError);
    expect(tooLarge.retryable).toBe(false);
  });
});

describe('shouldRetry', () => {
  const of = (code: GrpcStatus, testudoError?: string, details = 'x') =>
    errorFromStatus(status(code, details, testudoError === undefined ? {} : { 'testudo-error': testudoError }), 'e');
  const cases: [string, TestudoError, Record<CallKind, boolean>][] = [
    ['not-leader', of(GrpcStatus.UNAVAILABLE, 'not-leader'), { read: true, write: true, admin: true }],
    ['no-leader', of(GrpcStatus.UNAVAILABLE, 'no-leader'), { read: true, write: true, admin: true }],
    ['never connected', of(GrpcStatus.UNAVAILABLE, undefined, 'No connection established'), { read: true, write: true, admin: true }],
    ['connection dropped', of(GrpcStatus.UNAVAILABLE, undefined, 'Connection dropped'), { read: true, write: true, admin: false }],
    ['leadership-lost', of(GrpcStatus.UNAVAILABLE, 'leadership-lost'), { read: true, write: true, admin: false }],
    // A coordinator forwarded the call and lost the leader's answer: it may have been applied.
    ['forward-lost', of(GrpcStatus.UNAVAILABLE, 'forward-lost'), { read: true, write: true, admin: false }],
    ['stopping', of(GrpcStatus.UNAVAILABLE, 'stopping'), { read: true, write: true, admin: false }],
    ['deadline', of(GrpcStatus.DEADLINE_EXCEEDED), { read: true, write: true, admin: false }],
    ['overloaded', of(GrpcStatus.RESOURCE_EXHAUSTED, 'too-many-requests'), { read: true, write: true, admin: false }],
    ['invalid', of(GrpcStatus.INVALID_ARGUMENT, 'invalid'), { read: false, write: false, admin: false }],
    ['conf-change', of(GrpcStatus.FAILED_PRECONDITION, 'conf-change'), { read: false, write: false, admin: false }],
  ];
  it.each(cases)('%s', (_name, error, expected) => {
    expect({ read: shouldRetry('read', error), write: shouldRetry('write', error), admin: shouldRetry('admin', error) }).toEqual(expected);
  });
});

describe('options', () => {
  it.each([
    [[], /non-empty/],
    ['127.0.0.1:7001', /non-empty array/],
    [['localhost'], /not "host:port"/],
    [['127.0.0.1:0'], /outside 1..65535/],
    [['127.0.0.1:70000'], /outside 1..65535/],
    [['http://127.0.0.1:7001'], /not "host:port"/],
  ])('rejects endpoints %j', (endpoints, message) => {
    expect(() => new TestudoClient({ endpoints: endpoints as string[] })).toThrow(InvalidArgumentError);
    expect(() => new TestudoClient({ endpoints: endpoints as string[] })).toThrow(message);
  });

  it('accepts names, IPv4 and bracketed IPv6, and drops duplicates', () => {
    expect(['coord-1.example:7001', '10.0.0.1:1', '[::1]:65535'].map(endpointProblem)).toEqual(['', '', '']);
    const client = new TestudoClient({ endpoints: ['127.0.0.1:7001', '127.0.0.1:7001', '[::1]:7002'] });
    expect(client.endpoints).toEqual(['127.0.0.1:7001', '[::1]:7002']);
    expect(client.clientId).toMatch(/^[0-9a-f-]{36}$/);
    client.close();
  });

  it.each([
    [{ callTimeoutMs: 0 }, /callTimeoutMs/],
    [{ totalTimeoutMs: 1.5 }, /totalTimeoutMs/],
    [{ messageBytesMax: 2 ** 31 }, /messageBytesMax/],
    [{ retry: { attemptsMax: 0 } }, /attemptsMax/],
    [{ retry: { backoffBaseMs: 100, backoffMaxMs: 10 } }, /backoffMaxMs/],
    [{ clientId: '' }, /clientId/],
  ])('rejects %j', (options, message) => {
    expect(() => new TestudoClient({ endpoints: ['127.0.0.1:7001'], ...options })).toThrow(message);
  });
});

describe('message size', () => {
  let node: FakeNode | undefined;
  let client: TestudoClient | undefined;
  afterEach(() => {
    client?.close();
    node?.stop();
  });

  it('refuses a value over messageBytesMax without retrying', async () => {
    node = await FakeNode.start('a', (method, _request, n) => defaultAnswer(method, n));
    client = new TestudoClient({ endpoints: [node.address], messageBytesMax: 4096 });
    await expect(client.put('k', new Uint8Array(2048))).resolves.toMatchObject({ index: 7 });
    await expect(client.put('k', new Uint8Array(8192))).rejects.toBeInstanceOf(MessageTooLargeError);
    expect(node.received.length).toBe(1);
  });
});
