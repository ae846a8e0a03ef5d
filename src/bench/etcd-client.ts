import { join } from 'node:path';
import { Client, Metadata, credentials, status as GrpcStatus, type StatusObject } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { MethodDefinition, PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { protoDir } from '../common/protos.js';

/**
 * A minimal client of etcd's v3 gRPC API (proto/etcd-rpc.proto: KV.Put,
 * KV.Range, Maintenance.Status), written for the comparison benches
 * (src/bench/etcd-bench.ts, src/bench/etcd-failover.ts) so that etcd is
 * driven from Node the way Testudo is: one HTTP/2 channel per endpoint, a
 * unary call straight on grpc-js's channel (as src/client/rpc.ts does), no
 * etcd npm client. 64-bit integers come back as decimal strings: member ids
 * are random 64-bit numbers that a double would round.
 */

/** Largest message either way (a keys-only Range of the bench's key space is well under it). */
export const etcdMessageBytesMax = 64 * 1024 * 1024;

/** A Put is tried at most this many times (on the endpoints in turn) before the load counts it failed. */
export const etcdPutAttemptsMax = 1000;

/** An etcd call that failed: the endpoint, the gRPC status code and etcd's message. */
export class EtcdCallError extends Error {
  override readonly name = 'EtcdCallError';
  readonly endpoint: string;
  readonly code: number;

  constructor(endpoint: string, code: number, details: string) {
    super(`etcd ${endpoint}: ${GrpcStatus[code] ?? code}: ${details}`);
    this.endpoint = endpoint;
    this.code = code;
  }
}

export interface EtcdHeader {
  readonly memberId: string;
  /** The store's revision: one more per committed Put. */
  readonly revision: number;
  readonly raftTerm: number;
}

export interface EtcdStatus {
  readonly header: EtcdHeader;
  readonly version: string;
  /** The member this one believes leads; '0' when it knows none. */
  readonly leader: string;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
}

export interface EtcdKeyValue {
  readonly key: string;
  readonly value: Buffer;
  /** Puts to this key since it was created. */
  readonly version: number;
  readonly modRevision: number;
}

interface Method {
  readonly path: string;
  readonly serialize: (value: unknown) => Buffer;
  readonly deserialize: (bytes: Buffer) => unknown;
}

interface EtcdMethods {
  readonly put: Method;
  readonly range: Method;
  readonly status: Method;
}

let methodsLoaded: EtcdMethods | undefined;

function etcdMethods(): EtcdMethods {
  if (methodsLoaded !== undefined) return methodsLoaded;
  const definition: PackageDefinition = protoLoader.loadSync(join(protoDir(), 'etcd-rpc.proto'), {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    arrays: true,
  });
  const method = (service: string, name: string): Method => {
    const m = (definition[`etcdserverpb.${service}`] as ServiceDefinition | undefined)?.[name] as MethodDefinition<unknown, unknown> | undefined;
    if (m === undefined || m.requestStream || m.responseStream) throw new Error(`etcd-rpc.proto: etcdserverpb.${service}/${name} is missing or is not unary`);
    return { path: m.path, serialize: m.requestSerialize, deserialize: m.responseDeserialize };
  };
  methodsLoaded = { put: method('KV', 'Put'), range: method('KV', 'Range'), status: method('Maintenance', 'Status') };
  return methodsLoaded;
}

interface RawHeader {
  memberId: string;
  revision: string;
  raftTerm: string;
}

function header(raw: RawHeader | null | undefined): EtcdHeader {
  if (raw === null || raw === undefined) throw new Error('etcd answered without a response header');
  return { memberId: raw.memberId, revision: Number(raw.revision), raftTerm: Number(raw.raftTerm) };
}

/** The smallest key above every key that starts with `prefix` (etcd's range_end for a prefix read). */
export function prefixRangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // every key: etcd reads "\0" as "to the end"
}

/** How the client retries a Put: short attempts, the next endpoint after each failure. */
export interface EtcdRetryOptions {
  readonly callTimeoutMs: number;
  readonly totalTimeoutMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export const etcdRetryDefaults: EtcdRetryOptions = { callTimeoutMs: 5000, totalTimeoutMs: 30_000, backoffBaseMs: 5, backoffMaxMs: 100 };

/**
 * Puts go to the preferred endpoint (the first given: the bench puts the
 * leader first, as Testudo's client learns its leader); a failed attempt
 * moves the preference to the next endpoint, after a backoff, until the Put
 * commits or the retry budget is spent.
 */
export class EtcdClient {
  readonly endpoints: readonly string[];
  private readonly channels = new Map<string, Client>();
  private readonly retry: EtcdRetryOptions;
  private preferred: number = 0;

  constructor(endpoints: readonly string[], retry: Partial<EtcdRetryOptions> = {}) {
    if (endpoints.length === 0) throw new Error('an etcd client needs at least one endpoint');
    this.endpoints = [...endpoints];
    this.retry = { ...etcdRetryDefaults, ...retry };
  }

  /** Resolves with the header of the committed Put (its revision is the Put's own). */
  async put(key: string | Uint8Array, value: Uint8Array): Promise<EtcdHeader> {
    const request = { key: Buffer.from(key), value };
    const deadline = Date.now() + this.retry.totalTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      const endpoint = this.endpoints[this.preferred]!;
      try {
        const response = (await this.call(endpoint, etcdMethods().put, request, this.retry.callTimeoutMs)) as { header: RawHeader };
        return header(response.header);
      } catch (error) {
        if (!(error instanceof EtcdCallError) || attempt >= etcdPutAttemptsMax || Date.now() >= deadline) throw error;
        // Another caller may have moved on already: move only from the endpoint that failed.
        if (this.endpoints[this.preferred] === endpoint) this.preferred = (this.preferred + 1) % this.endpoints.length;
        const backoffMs = Math.min(this.retry.backoffMaxMs, this.retry.backoffBaseMs * 2 ** Math.min(attempt - 1, 10));
        await new Promise((resolve) => setTimeout(resolve, backoffMs));
      }
    }
  }

  async status(endpoint: string, timeoutMs = 1000): Promise<EtcdStatus> {
    const raw = (await this.call(endpoint, etcdMethods().status, {}, timeoutMs)) as {
      header: RawHeader;
      version: string;
      leader: string;
      raftIndex: string;
      raftTerm: string;
      raftAppliedIndex: string;
    };
    return {
      header: header(raw.header),
      version: raw.version,
      leader: raw.leader,
      raftIndex: Number(raw.raftIndex),
      raftTerm: Number(raw.raftTerm),
      raftAppliedIndex: Number(raw.raftAppliedIndex),
    };
  }

  /** Every key under `prefix` (a linearizable read), values left out when `keysOnly`. */
  async rangePrefix(endpoint: string, prefix: string, options: { keysOnly: boolean; limit?: number }, timeoutMs = 10_000): Promise<{ header: EtcdHeader; kvs: EtcdKeyValue[]; more: boolean }> {
    const request = { key: Buffer.from(prefix), rangeEnd: prefixRangeEnd(prefix), keysOnly: options.keysOnly, limit: options.limit ?? 0 };
    const raw = (await this.call(endpoint, etcdMethods().range, request, timeoutMs)) as {
      header: RawHeader;
      kvs: { key: Buffer; value: Buffer; version: string; modRevision: string }[];
      more: boolean;
    };
    const kvs = raw.kvs.map((kv) => ({ key: kv.key.toString(), value: kv.value, version: Number(kv.version), modRevision: Number(kv.modRevision) }));
    return { header: header(raw.header), kvs, more: raw.more };
  }

  close(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }

  private channel(endpoint: string): Client {
    let channel = this.channels.get(endpoint);
    if (channel === undefined) {
      channel = new Client(endpoint, credentials.createInsecure(), {
        'grpc.max_send_message_length': etcdMessageBytesMax,
        'grpc.max_receive_message_length': etcdMessageBytesMax,
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 5_000,
      });
      this.channels.set(endpoint, channel);
    }
    return channel;
  }

  /** One unary call on the endpoint's channel; rejects with an EtcdCallError. */
  private call(endpoint: string, method: Method, request: unknown, timeoutMs: number): Promise<unknown> {
    const bytes = method.serialize(request);
    return new Promise((resolve, reject) => {
      let response: Buffer | null = null;
      const call = this.channel(endpoint).getChannel().createCall(method.path, Date.now() + timeoutMs, undefined, null, undefined);
      call.start(new Metadata(), {
        onReceiveMetadata: () => undefined,
        onReceiveMessage: (message: Buffer) => {
          response = message;
        },
        onReceiveStatus: (status: StatusObject) => {
          if (status.code !== GrpcStatus.OK) return reject(new EtcdCallError(endpoint, status.code, status.details));
          if (response === null) return reject(new EtcdCallError(endpoint, GrpcStatus.INTERNAL, 'no message received'));
          try {
            resolve(method.deserialize(response));
          } catch (error) {
            reject(new EtcdCallError(endpoint, GrpcStatus.INTERNAL, `cannot decode the response: ${String(error)}`));
          }
        },
      });
      call.startRead();
      call.sendMessageWithContext({}, bytes);
      call.halfClose();
    });
  }
}
