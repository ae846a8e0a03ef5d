// A scripted coordinator for the worker agent's tests: a real gRPC server on
// 127.0.0.1 (port 0) serving testudo.v1.Worker.Session. Its messages are the
// session types of src/model/session.ts, generated from the proto: what the
// fake sends must be a whole CoordinatorMessage (one body, every field), and
// what it reads is a WorkerMessage as grpc-js hands it over, so a change to
// the proto breaks the fakes at compile time instead of leaving them behind.
import * as grpc from '@grpc/grpc-js';

import { testudoServices } from '../../src/common/testudo-proto.js';
import type { WorkerHandlers } from '../../src/generated/testudo/v1/Worker.js';
import type { CoordinatorMessage, WorkerMessageReceived } from '../../src/model/session.js';

/** One worker's session, as the fake coordinator sees it. */
export type SessionCall = grpc.ServerDuplexStream<WorkerMessageReceived, CoordinatorMessage>;

export interface FakeCoordinator {
  readonly address: string;
  stop(): void;
}

/** Serves `session` for every Worker.Session a worker opens. */
export async function fakeCoordinator(session: (call: SessionCall) => void): Promise<FakeCoordinator> {
  const server = new grpc.Server();
  const handlers: WorkerHandlers = { Session: session };
  server.addService(testudoServices().Worker.service, handlers);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

/** The welcome of a session: the leader `leaderId`, heartbeats every `heartbeatIntervalMs`; `clusterId` '' names no cluster (an older coordinator). */
export function welcome(workerId: string, leaderId: string, heartbeatIntervalMs: number, clusterId = ''): CoordinatorMessage {
  return { welcome: { workerId, leaderId, heartbeatIntervalMs, ttlMs: 10_000, clusterId } };
}

/** Calls `listener` with each message the worker sends (typed here: grpc-js's 'data' event is not). */
export function onWorkerMessage(call: SessionCall, listener: (message: WorkerMessageReceived) => void): void {
  call.on('data', listener);
}
