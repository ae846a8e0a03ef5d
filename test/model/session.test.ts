import type { MethodDefinition, ServiceDefinition } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';

import { testudoPackageDefinition } from '../../src/common/testudo-proto.js';
import type { WorkerMessage as WireWorkerMessage } from '../../src/generated/testudo/v1/WorkerMessage.js';
import type { CoordinatorMessage, CoordinatorMessageReceived, WorkerHello, WorkerMessage, WorkerMessageReceived } from '../../src/model/index.js';

// The session messages of src/model/session.ts against what grpc-js really
// does with them: each end's message goes through the Worker.Session
// method's own (de)serializers, as on a live stream.

const session = (testudoPackageDefinition()['testudo.v1.Worker'] as ServiceDefinition)['Session'] as MethodDefinition<object, object>;

/** A worker's message as the leader receives it. */
function toLeader(message: WireWorkerMessage): WorkerMessageReceived {
  return session.requestDeserialize(session.requestSerialize(message)) as WorkerMessageReceived;
}

/** The leader's message as the worker receives it. */
function toWorker(message: CoordinatorMessage): CoordinatorMessageReceived {
  return session.responseDeserialize(session.responseSerialize(message)) as CoordinatorMessageReceived;
}

const hello: WorkerHello = {
  workerId: 'w1',
  name: 'host-1',
  slots: 4,
  httpAddress: '127.0.0.1:7070',
  capabilities: '{"os":"linux"}',
  running: ['r1.t1.a1'],
  pending: ['r1.t2.a1'],
  version: '1',
  sessionKey: 'k',
  clusterId: 'c1',
  interrupted: ['r1.t3.a1'],
  bootId: 'b1',
  uncleanStart: true,
};

describe('session messages on the wire', () => {
  it('a worker message reaches the leader as sent, with its body named', () => {
    const messages: WorkerMessage[] = [{ hello }, { heartbeat: { seq: 7 } }, { results: { results: ['{}', '{"a":1}'] } }, { resetDone: { ok: false, reason: 'disk full' } }];
    for (const message of messages) {
      const [body] = Object.keys(message);
      expect(toLeader(message)).toEqual({ ...message, body });
    }
  });

  it("a hello without the fields an older worker lacks reads them as their defaults", () => {
    const older: WireWorkerMessage = { hello: { workerId: 'w1', name: 'n', slots: 1, httpAddress: '', capabilities: '{}', running: [], pending: [], version: '1', clusterId: '' } };
    expect(toLeader(older).hello).toEqual({ ...older.hello, sessionKey: '', interrupted: [], bootId: '', uncleanStart: false });
  });

  it('a coordinator message reaches the worker as sent, and no other body is set', () => {
    const messages: CoordinatorMessage[] = [
      { welcome: { workerId: 'w1', leaderId: 'n1', heartbeatIntervalMs: 1000, ttlMs: 10_000, clusterId: 'c1' } },
      { notLeader: { leaderId: 'n2', leaderAddress: '127.0.0.1:7001' } },
      { assign: { orders: ['{"attemptId":"r1.t1.a1"}'] } },
      { cancel: { attemptIds: ['r1.t1.a1'], reason: 'run cancelled' } },
      { committed: { attemptIds: ['r1.t1.a1', 'r1.t2.a1'] } },
      { heartbeatAck: { seq: 7 } },
      { reset: { reason: 'failing' } },
    ];
    for (const message of messages) {
      const [body] = Object.keys(message);
      const received = toWorker(message);
      expect(received).toEqual({ ...message, body });
      expect(Object.keys(received).sort()).toEqual(['body', body].sort());
    }
  });

  it('a body this end does not know (a newer peer) arrives as no body at all', () => {
    // Field 99 of CoordinatorMessage, length-delimited and empty: a oneof member added later.
    const bytes = Buffer.from(protobuf.Writer.create().uint32((99 << 3) | 2).bytes(new Uint8Array()).finish());
    const received = session.responseDeserialize(bytes) as CoordinatorMessageReceived;
    expect(received.body).toBeUndefined();
    expect(Object.keys(received)).toEqual([]);
  });

  it('what an end sends holds exactly one body, given in full (checked by tsc)', () => {
    // @ts-expect-error two bodies in one message
    const twoBodies: CoordinatorMessage = { heartbeatAck: { seq: 1 }, reset: { reason: '' } };
    // @ts-expect-error a body without all its fields
    const partial: CoordinatorMessage = { welcome: { workerId: 'w1' } };
    // @ts-expect-error no body
    const empty: WorkerMessage = {};
    // @ts-expect-error a hello without the fields a current worker sends
    const thin: WorkerMessage = { hello: { workerId: 'w1' } };
    // The wire type itself allows all of these: the strictness is the model's.
    const loose: WireWorkerMessage[] = [{}, { hello: { workerId: 'w1' } }, { hello, heartbeat: { seq: 1 } }];
    expect([twoBodies, partial, empty, thin].length + loose.length).toBe(7);
  });
});
