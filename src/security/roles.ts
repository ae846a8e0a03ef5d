/**
 * Who may call what: the roles a token carries and the one table that maps
 * every gRPC method and HTTP route of a coordinator to the role it needs
 * (docs/security.md, "Tokens and roles"). Plain data; `auth.ts`
 * enforces it in one place, the server interceptor and the HTTP check.
 */

/**
 * `admin` implies `client`, which implies `readonly`. `worker` stands alone.
 * `peer` is another coordinator of the cluster: it may open Raft streams,
 * read member status, and forward a caller's request with the caller's role.
 */
export const ROLES = ['readonly', 'client', 'admin', 'worker', 'peer'] as const;
export type Role = (typeof ROLES)[number];

/** A method or route anyone may call, e.g. health probes. */
export type Access = Role | 'open';

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

const granted: Readonly<Record<Role, readonly Role[]>> = {
  readonly: ['readonly'],
  client: ['client', 'readonly'],
  admin: ['admin', 'client', 'readonly'],
  worker: ['worker'],
  peer: ['peer', 'readonly'],
};

/** Whether a caller holding `held` may call what needs `needed`. */
export function grants(held: Role, needed: Access): boolean {
  return needed === 'open' || granted[held].includes(needed);
}

/** The roles a forwarding peer may claim for the caller it forwards for. */
export const forwardableRoles: readonly Role[] = ['readonly', 'client', 'admin'];

export interface MethodRule {
  readonly access: Access;
  /** An admin action: every call, allowed or refused, writes an audit line. */
  readonly audit: boolean;
  /**
   * Some requests of the method need more (BreakerConfig reads with
   * `readonly` but changes settings with `admin`); decided on the request.
   */
  readonly escalate?: (request: unknown) => boolean;
}

const rule = (access: Access, audit = false): MethodRule => ({ access, audit });
const adminAction: MethodRule = rule('admin', true);

/** Whether a BreakerConfig request changes settings (a non-empty `set`). */
function changesBreakerConfig(request: unknown): boolean {
  const set = (request as { set?: unknown } | null)?.set;
  return typeof set === 'string' && set !== '';
}

/**
 * Every gRPC method a coordinator serves, by full path. A method missing
 * here is refused (PERMISSION_DENIED); test/security/auth-roles.test.ts
 * checks that every RPC of proto/testudo.proto and proto/raft.proto is here.
 */
export const grpcMethodRules: Readonly<Record<string, MethodRule>> = {
  '/testudo.v1.Kv/Put': adminAction,
  '/testudo.v1.Kv/PutMany': adminAction,
  '/testudo.v1.Kv/Delete': adminAction,
  '/testudo.v1.Kv/Get': rule('readonly'),
  '/testudo.v1.Kv/List': rule('readonly'),

  '/testudo.v1.Cluster/Status': rule('readonly'),
  '/testudo.v1.Cluster/MemberStatus': rule('readonly'),
  '/testudo.v1.Cluster/TransferLeader': adminAction,
  '/testudo.v1.Cluster/AddMember': adminAction,
  '/testudo.v1.Cluster/RemoveMember': adminAction,
  '/testudo.v1.Cluster/RepairMember': adminAction,
  // A copy of the whole replicated state: every run's commands and env, every kv value.
  '/testudo.v1.Cluster/SaveSnapshot': adminAction,

  '/testudo.v1.Runs/SubmitRun': rule('client'),
  '/testudo.v1.Runs/GetRun': rule('readonly'),
  '/testudo.v1.Runs/ListRuns': rule('readonly'),
  '/testudo.v1.Runs/CancelRun': rule('client'),
  '/testudo.v1.Runs/WatchRun': rule('client'),
  '/testudo.v1.Runs/ListWorkers': rule('readonly'),
  '/testudo.v1.Runs/DrainWorker': adminAction,
  '/testudo.v1.Runs/ReleaseWorker': adminAction,
  // Lets a new machine take over a worker id (and, until it does, anyone holding the join token).
  '/testudo.v1.Runs/ForgetWorker': adminAction,
  '/testudo.v1.Runs/BreakerConfig': { access: 'readonly', audit: false, escalate: changesBreakerConfig },

  '/testudo.v1.Worker/Session': rule('worker'),

  '/testudo.raft.v1.RaftPeer/Stream': rule('peer'),
  '/testudo.raft.v1.RaftPeer/Ping': rule('peer'),

  // Probes (load balancers, kubelets) carry no token.
  '/grpc.health.v1.Health/Check': rule('open'),
  '/grpc.health.v1.Health/Watch': rule('open'),
  '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo': rule('readonly'),
  '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo': rule('readonly'),
};

/** The rule of a request that `escalate` picks out: an audited admin action. */
export const escalatedRule: MethodRule = adminAction;

/** What refuses an unknown gRPC method: nobody holds it. */
export const unknownMethodRule: MethodRule = rule('admin', true);

/** HTTP routes of a coordinator (src/coordinator/http-server.ts), by path. */
export const httpRouteRules: Readonly<Record<string, MethodRule>> = {
  '/livez': rule('open'),
  '/readyz': rule('open'),
  '/metrics': rule('readonly'),
  '/status': rule('readonly'),
  // Fault injection: reading it is harmless, changing it is an admin action.
  '/chaos': { access: 'readonly', audit: false, escalate: (method) => method !== 'GET' && method !== 'HEAD' },
};

/**
 * HTTP routes of a worker's `--http` port (src/worker/http.ts), checked when
 * the worker has `--auth-file`. `/logs/<attempt>` is one route, `/logs`:
 * an attempt's full output, which `readonly` may read as it reads the same
 * output's tail in a run's report (`Runs.GetRun`).
 */
export const workerHttpRouteRules: Readonly<Record<string, MethodRule>> = {
  '/livez': rule('open'),
  '/metrics': rule('readonly'),
  '/status': rule('readonly'),
  '/logs': rule('readonly'),
  '/chaos': httpRouteRules['/chaos']!,
};

/** The route of a worker path in `workerHttpRouteRules`: '/logs/a-1' → '/logs'. */
export function workerRouteOf(path: string): string {
  return path.startsWith('/logs/') ? '/logs' : path;
}

/** Any other path (a 404 to those allowed) needs `readonly`, so probing the server for routes needs a token. */
export const unknownRouteRule: MethodRule = rule('readonly');

/** The method's short name for logs and metric labels: '/testudo.v1.Kv/Put' → 'Kv.Put'. */
export function methodLabel(path: string): string {
  const match = /^\/(?:[\w.]+\.)?(\w+)\/(\w+)$/.exec(path);
  return match === null ? 'unknown' : `${match[1]}.${match[2]}`;
}
