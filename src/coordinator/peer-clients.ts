import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { AddressRoutes } from '../client/routes.js';
import { bearer } from '../security/auth-token.js';
import { forwardedForKey, forwardedKey, forwardedRoleKey, type Principal } from '../security/auth.js';
import { testudoServices, type TestudoServices } from '../common/testudo-proto.js';

/** The services a coordinator forwards calls for. */
export type ForwardService = 'Kv' | 'Cluster' | 'Runs';

/** Their method definitions, as generated from the proto (src/generated): path, encoders and types of each method. */
type ForwardDefinitions = { readonly [S in ForwardService]: TestudoServices[S]['service'] };

/** A method of `S` that a coordinator may forward (its streaming methods are served where they are called). */
export type ForwardMethod<S extends ForwardService> = Exclude<keyof ForwardDefinitions[S] & string, 'WatchRun' | 'SaveSnapshot'>;

/** The request `S.M` takes, as generated from the proto. */
export type ForwardRequest<S extends ForwardService, M extends ForwardMethod<S>> =
  ForwardDefinitions[S][M] extends MethodDefinition<infer Req, infer _Res, infer _ReqOut, infer _ResOut> ? Req : never;

/** The response `S.M` gives, as grpc-js decodes it (the generated `__Output` type). */
export type ForwardResponse<S extends ForwardService, M extends ForwardMethod<S>> =
  ForwardDefinitions[S][M] extends MethodDefinition<infer _Req, infer _Res, infer _ReqOut, infer ResOut> ? ResOut : never;

/** Upper bound on cached client connections to other coordinators. */
export const peerClientsMax = 64;

/**
 * Clients this coordinator uses to reach the others' client and admin
 * services: forwarding writes to the leader and collecting member status.
 * One channel per address, reused.
 */
export class PeerClients {
  /** One channel per address; the calls are encoded by the generated method definitions, so any service goes over it. */
  private readonly clients = new Map<string, grpc.Client>();
  private readonly channelOptions: grpc.ChannelOptions;

  constructor(
    messageBytesMax: number,
    private readonly routes: AddressRoutes = AddressRoutes.none,
    /** TLS (security/tls.ts) or plaintext; one object for every channel. */
    private readonly credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    /** This node's peer token (--token-file); null in an open cluster. */
    private readonly peerToken: string | null = null,
  ) {
    this.channelOptions = { 'grpc.max_send_message_length': messageBytesMax, 'grpc.max_receive_message_length': messageBytesMax };
  }

  /**
   * Calls `service.method` on the coordinator at `address`, marked as
   * forwarded, with this node's peer token and, when it acts for a caller
   * this node checked, that caller's name and role (`onBehalfOf`); without
   * one the call runs with the peer's own role.
   */
  forward<S extends ForwardService, M extends ForwardMethod<S>>(
    address: string,
    service: S,
    method: M,
    request: ForwardRequest<S, M>,
    timeoutMs: number,
    onBehalfOf: Principal | null = null,
  ): Promise<ForwardResponse<S, M>> {
    const definitions: grpc.ServiceDefinition = testudoServices()[service].service;
    const definition: grpc.MethodDefinition<ForwardRequest<S, M>, ForwardResponse<S, M>> | undefined = definitions[method];
    if (definition === undefined || definition.requestStream || definition.responseStream) return Promise.reject(new Error(`${service} has no unary method ${method}`));
    const md = new grpc.Metadata();
    md.set(forwardedKey, '1');
    if (this.peerToken !== null) md.set('authorization', bearer(this.peerToken));
    if (onBehalfOf !== null && onBehalfOf.role !== null) {
      md.set(forwardedForKey, onBehalfOf.name);
      md.set(forwardedRoleKey, onBehalfOf.role);
    }
    const client = this.client(address);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(definition.path, definition.requestSerialize, definition.responseDeserialize, request, md, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error !== null) reject(error);
        else if (response === undefined) reject(new Error(`${service}.${method} answered nothing`));
        else resolve(response);
      });
    });
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(address: string): grpc.Client {
    let c = this.clients.get(address);
    if (c === undefined) {
      if (this.clients.size >= peerClientsMax) this.close();
      c = new grpc.Client(this.routes.dial(address), this.credentials, this.channelOptions);
      this.clients.set(address, c);
    }
    return c;
  }
}
