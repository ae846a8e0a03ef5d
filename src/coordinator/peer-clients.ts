import * as grpc from '@grpc/grpc-js';
import { AddressRoutes } from '../client/routes.js';
import { bearer } from '../security/auth-token.js';
import { forwardedForKey, forwardedKey, forwardedRoleKey, type Principal } from '../security/auth.js';
import { testudoServices } from '../common/testudo-proto.js';

type UnaryMethod<Req, Res> = (req: Req, md: grpc.Metadata, opts: grpc.CallOptions, cb: grpc.requestCallback<Res>) => grpc.ClientUnaryCall;

/** The services a coordinator forwards calls for. */
export type ForwardService = 'Kv' | 'Cluster' | 'Runs';

interface PeerServiceClients {
  Kv: grpc.Client;
  Cluster: grpc.Client;
  Runs: grpc.Client;
}

/** Upper bound on cached client connections to other coordinators. */
export const peerClientsMax = 64;

/**
 * Clients this coordinator uses to reach the others' client and admin
 * services: forwarding writes to the leader and collecting member status.
 * One channel per address, reused.
 */
export class PeerClients {
  private readonly clients = new Map<string, PeerServiceClients>();
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
  forward<Req, Res>(address: string, service: ForwardService, method: string, request: Req, timeoutMs: number, onBehalfOf: Principal | null = null): Promise<Res> {
    const client = this.client(address)[service] as unknown as Record<string, UnaryMethod<Req, Res> | undefined>;
    const fn = client[method];
    if (fn === undefined) return Promise.reject(new Error(`${service} has no method ${method}`));
    const md = new grpc.Metadata();
    md.set(forwardedKey, '1');
    if (this.peerToken !== null) md.set('authorization', bearer(this.peerToken));
    if (onBehalfOf !== null && onBehalfOf.role !== null) {
      md.set(forwardedForKey, onBehalfOf.name);
      md.set(forwardedRoleKey, onBehalfOf.role);
    }
    return new Promise<Res>((resolve, reject) => {
      fn.call(client, request, md, { deadline: Date.now() + timeoutMs }, (error, response) => {
        if (error !== null) reject(error);
        else resolve(response as Res);
      });
    });
  }

  close(): void {
    for (const c of this.clients.values()) {
      c.Kv.close();
      c.Cluster.close();
      c.Runs.close();
    }
    this.clients.clear();
  }

  private client(address: string): PeerServiceClients {
    let c = this.clients.get(address);
    if (c === undefined) {
      if (this.clients.size >= peerClientsMax) this.close();
      const creds = this.credentials;
      const services = testudoServices();
      c = {
        Kv: new services.Kv(this.routes.dial(address), creds, this.channelOptions),
        Cluster: new services.Cluster(this.routes.dial(address), creds, this.channelOptions),
        Runs: new services.Runs(this.routes.dial(address), creds, this.channelOptions),
      };
      this.clients.set(address, c);
    }
    return c;
  }
}
