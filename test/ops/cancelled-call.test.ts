import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { TestudoError, UnavailableError } from '../../src/client/index.js';
import { errorFromStatus } from '../../src/client/errors.js';
import { shouldRetry } from '../../src/client/retry.js';

/**
 * A coordinator stopped with SIGTERM ends the calls it still serves, and the
 * client receives CANCELLED (grpc-js reports a session destroyed with
 * NGHTTP2_CANCEL so). During a rolling restart that must not fail a write:
 * it is retried like a dropped connection (its idempotency key makes the
 * retry apply once), while an admin change, which may have been applied, is
 * not sent again. test/ops/rolling-restart.test.ts saw such writes fail
 * before CANCELLED was classified this way.
 */
describe('a call the server cancelled', () => {
  const cancelled = errorFromStatus({ code: GrpcStatus.CANCELLED, details: 'Call cancelled', metadata: new Metadata() }, '127.0.0.1:7001');

  it('is a retryable unavailability that may have been applied', () => {
    expect(cancelled).toBeInstanceOf(UnavailableError);
    expect(cancelled.retryable).toBe(true);
    expect((cancelled as UnavailableError).beforeSend).toBe(false);
  });

  it('is retried for writes and reads, not for admin changes', () => {
    expect(shouldRetry('write', cancelled)).toBe(true);
    expect(shouldRetry('read', cancelled)).toBe(true);
    expect(shouldRetry('admin', cancelled)).toBe(false);
  });

  it('leaves other statuses without Testudo metadata as they were', () => {
    const internal = errorFromStatus({ code: GrpcStatus.INTERNAL, details: 'boom', metadata: new Metadata() }, '127.0.0.1:7001');
    expect(internal).toBeInstanceOf(TestudoError);
    expect(internal.retryable).toBe(false);
  });
});
