import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import * as grpc from '@grpc/grpc-js';

import type { AuthFile, CertificateEntry, TokenEntry } from './auth-file.js';
import { authorizationKey, parseBearer, tokenHash } from './auth-token.js';
import {
  escalatedRule,
  forwardableRoles,
  grants,
  grpcMethodRules,
  httpRouteRules,
  methodLabel,
  unknownMethodRule,
  unknownRouteRule,
  type MethodRule,
  type Role,
} from './roles.js';

/**
 * Authentication and authorization of a coordinator's callers, in one place:
 * a grpc-js server interceptor that every call of every service passes
 * (Kv, Cluster, Runs, Worker, RaftPeer, health, reflection), and the same
 * decision for the HTTP routes. It finds the caller's token, checks the
 * method's role in `roles.ts`, and hands the handler a trusted principal in
 * the call metadata (never the token). docs/security.md.
 */

/** Who made a call, as handlers see it. */
export interface Principal {
  /** The token's name in the auth file; 'anonymous' in an open cluster. */
  readonly name: string;
  /** null in an open cluster, where nothing is checked. */
  readonly role: Role | null;
  /** The coordinator that forwarded the call for this caller; '' for a direct call. */
  readonly via: string;
}

export const anonymous: Principal = { name: 'anonymous', role: null, via: '' };

/** Metadata a handler reads the checked principal from; set by the interceptor only (a caller's own values are dropped). */
export const principalNameKey = 'testudo-principal';
export const principalRoleKey = 'testudo-principal-role';
export const principalViaKey = 'testudo-principal-via';
/** Set by a forwarding coordinator: the caller it checked and that caller's role. Trusted from peers only. */
export const forwardedForKey = 'testudo-forwarded-for';
export const forwardedRoleKey = 'testudo-forwarded-role';
/** Marks a call one coordinator forwards to another (services.ts never forwards it again). */
export const forwardedKey = 'testudo-forwarded';

export type RefusalReason = 'unauthenticated' | 'wrong-role' | 'forged-forward';

/** The auth-file entry a call proved itself with: its token's entry, or the entry of its client certificate. */
export type Credential = TokenEntry | CertificateEntry;

export type Verdict =
  | { readonly ok: true; readonly principal: Principal; readonly credential?: Credential }
  | { readonly ok: false; readonly code: grpc.status; readonly reason: RefusalReason; readonly message: string; readonly principal: Principal | null };

/** What an Authenticator's table is made of: an auth file as read. */
export type AuthTable = Pick<AuthFile, 'entries'> & Partial<Pick<AuthFile, 'certificates'>>;

/** A call in progress that passed with a credential; ended when a reload drops that credential. */
interface OpenCall {
  readonly credential: Credential;
  end(message: string): void;
}

/**
 * The tokens (and client-certificate names) a coordinator or a worker's HTTP
 * port accepts, compared in constant time. The table can be replaced while
 * serving (SIGHUP, `replace`): every decision after that uses the new one.
 */
export class Authenticator {
  private entries: readonly TokenEntry[] = [];
  private certificates: ReadonlyMap<string, CertificateEntry> = new Map();
  /** Calls open now (gRPC streams and unary calls in flight), by the credential they passed with. */
  private readonly openCalls = new Set<OpenCall>();

  constructor(file: AuthTable) {
    this.setTable(file);
  }

  private setTable(file: AuthTable): void {
    this.entries = file.entries;
    this.certificates = new Map((file.certificates ?? []).map((c) => [c.commonName, c]));
  }

  /**
   * Switches to a new table (an auth file read again). A credential the new
   * table no longer holds is refused from now on, and every call still open
   * under it (a worker session, a Raft stream, a watch) is ended with
   * UNAUTHENTICATED. Returns how many calls were ended.
   */
  replace(file: AuthTable): number {
    this.setTable(file);
    let ended = 0;
    for (const open of [...this.openCalls]) {
      if (this.holds(open.credential)) continue;
      this.openCalls.delete(open);
      open.end(`the ${open.credential.role} credential ${open.credential.name} was removed from the auth file`);
      ended++;
    }
    return ended;
  }

  /** Whether the table holds `credential` as it was when a call passed with it (same role, name and secret). */
  holds(credential: Credential): boolean {
    if ('commonName' in credential) {
      const entry = this.certificates.get(credential.commonName);
      return entry !== undefined && entry.role === credential.role && entry.name === credential.name;
    }
    return this.entries.some((e) => e.role === credential.role && e.name === credential.name && e.hash.equals(credential.hash));
  }

  /** Counts of accepted credentials by role, for the reload log line (never a token). */
  summary(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const e of [...this.entries, ...this.certificates.values()]) out[e.role] = (out[e.role] ?? 0) + 1;
    return out;
  }

  /** Remembers a call that passed with `credential` until the returned function is called (its status was sent, or it was cancelled). */
  track(credential: Credential, end: (message: string) => void): () => void {
    const open: OpenCall = { credential, end };
    this.openCalls.add(open);
    return () => this.openCalls.delete(open);
  }

  /** Calls being tracked now (tests and metrics). */
  get openCallCount(): number {
    return this.openCalls.size;
  }

  /** Whether `name` has a `peer` entry proven by a client certificate (then it needs no peer token). */
  hasPeerCertificate(name: string): boolean {
    return [...this.certificates.values()].some((c) => c.role === 'peer' && c.name === name);
  }

  /**
   * The entry whose token this is, or null. Every entry is compared (no
   * early exit) with timingSafeEqual over SHA-256 digests, so the time taken
   * says nothing about which entry, or how much of a token, matched.
   */
  identify(token: string): TokenEntry | null {
    const presented = tokenHash(token);
    let found: TokenEntry | null = null;
    for (const entry of this.entries) {
      const equal = timingSafeEqual(entry.hash, presented);
      if (equal && found === null) found = entry;
    }
    return found;
  }

  /** Whether `name` has a `peer` entry whose token is `token` (a coordinator checking its own --token-file). */
  isPeerToken(name: string, token: string): boolean {
    const entry = this.identify(token);
    return entry !== null && entry.role === 'peer' && entry.name === name;
  }

  /**
   * The caller behind an `authorization` value (else the common name of a
   * client certificate mutual TLS verified) and forwarding metadata, checked
   * against `rule`. A token, when given, decides: a certificate does not
   * rescue a bad one.
   */
  decide(rule: MethodRule, authorization: unknown, forwarded: ForwardClaim, certificateName: string | null = null): Verdict {
    // Probes carry no token, and need none.
    if (rule.access === 'open') return { ok: true, principal: anonymous };
    const token = parseBearer(authorization);
    const byCertificate = token === null && certificateName !== null ? (this.certificates.get(certificateName) ?? null) : null;
    if (token === null && byCertificate === null) {
      return refusal(grpc.status.UNAUTHENTICATED, 'unauthenticated', 'this cluster requires a token: present one as "authorization: Bearer <token>" (--token-file, TESTUDO_TOKEN_FILE)', null);
    }
    const entry: Credential | null = token === null ? byCertificate : this.identify(token);
    if (entry === null) return refusal(grpc.status.UNAUTHENTICATED, 'unauthenticated', 'the token is not one this cluster accepts', null);
    let principal: Principal = { name: entry.name, role: entry.role, via: '' };
    if (forwarded.marked || forwarded.forName !== '') {
      if (entry.role !== 'peer') return refusal(grpc.status.PERMISSION_DENIED, 'forged-forward', `${entry.name} (${entry.role}) is not a cluster peer and may not forward calls`, principal);
      if (forwarded.forName !== '') {
        const role = forwardableRoles.find((r) => r === forwarded.forRole);
        if (role === undefined) return refusal(grpc.status.PERMISSION_DENIED, 'forged-forward', `peer ${entry.name} forwarded a call with role ${JSON.stringify(forwarded.forRole)}`, principal);
        principal = { name: forwarded.forName, role, via: entry.name };
      }
    }
    const verdict = check(principal, rule);
    return verdict.ok ? { ...verdict, credential: entry } : verdict;
  }
}

export interface ForwardClaim {
  /** The call carries the forwarded marker. */
  readonly marked: boolean;
  readonly forName: string;
  readonly forRole: string;
}

function refusal(code: grpc.status, reason: RefusalReason, message: string, principal: Principal | null): Verdict {
  return { ok: false, code, reason, message, principal };
}

/** Whether `principal` may do what `rule` guards. */
export function check(principal: Principal, rule: MethodRule): Verdict {
  if (principal.role === null || grants(principal.role, rule.access)) return { ok: true, principal };
  const who = principal.via === '' ? principal.name : `${principal.name} (via ${principal.via})`;
  return refusal(grpc.status.PERMISSION_DENIED, 'wrong-role', `${who} has role ${principal.role}; this needs ${rule.access}`, principal);
}

function text(metadata: grpc.Metadata, key: string): string {
  const value = metadata.get(key)[0];
  return typeof value === 'string' ? value : '';
}

/** The principal the interceptor checked, as a handler reads it; null when the call did not pass the interceptor. */
export function principalOf(metadata: grpc.Metadata): Principal | null {
  const name = text(metadata, principalNameKey);
  if (name === '') return null;
  const role = text(metadata, principalRoleKey);
  return { name, role: forwardableRoles.concat(['worker', 'peer']).find((r) => r === role) ?? null, via: text(metadata, principalViaKey) };
}

/** Replaces whatever the caller put under the principal keys (and its token) with the checked principal. */
function stampPrincipal(metadata: grpc.Metadata, principal: Principal): grpc.Metadata {
  for (const key of [authorizationKey, principalNameKey, principalRoleKey, principalViaKey, forwardedForKey, forwardedRoleKey]) metadata.remove(key);
  metadata.set(principalNameKey, principal.name);
  if (principal.role !== null) metadata.set(principalRoleKey, principal.role);
  if (principal.via !== '') metadata.set(principalViaKey, principal.via);
  return metadata;
}

// ------------------------------------------------------------------ audit

/** Request fields an audit line may show (never values, tokens or secrets). */
const auditFields = ['key', 'id', 'address', 'learnerOnly', 'to', 'workerId', 'undrain', 'disable', 'enable', 'reason', 'set'] as const;
/** Characters of one field an audit line shows. */
export const auditFieldCharsMax = 512;

/** What an audit line says the call was about. */
export function auditTarget(request: unknown): Record<string, unknown> {
  const target: Record<string, unknown> = {};
  if (typeof request !== 'object' || request === null) return target;
  for (const field of auditFields) {
    const value = (request as Record<string, unknown>)[field];
    if (value === undefined || value === '' || value === false) continue;
    target[field] = typeof value === 'string' ? value.slice(0, auditFieldCharsMax) : value;
  }
  return target;
}

export interface AuditEvent {
  readonly principal: Principal | null;
  readonly action: string;
  readonly target: Record<string, unknown> | null;
  readonly outcome: string;
  readonly remote: string;
  readonly message?: string;
}

/** Writes audit lines: a pino child logger made with `{ audit: true }` (docs/security.md, "Audit log"). */
export interface AuditSink {
  info(fields: Record<string, unknown>, message: string): void;
}

export function writeAudit(sink: AuditSink, event: AuditEvent): void {
  sink.info(
    {
      who: event.principal?.name ?? 'unauthenticated',
      role: event.principal?.role ?? null,
      via: event.principal?.via === '' ? undefined : event.principal?.via,
      remote: event.remote,
      action: event.action,
      target: event.target,
      outcome: event.outcome,
      ...(event.message === undefined ? {} : { detail: event.message }),
    },
    `audit: ${event.action} by ${event.principal?.name ?? 'unauthenticated'}: ${event.outcome}`,
  );
}

// ------------------------------------------------------------ interceptor

export interface AuthInterceptorOptions {
  /** null: an open cluster; every call passes as `anonymous` (audit lines are still written). */
  readonly auth: Authenticator | null;
  readonly audit: AuditSink;
  /** A call was refused (for metrics). */
  onRefused?(method: string, reason: RefusalReason): void;
}

/** The interceptor every call to the coordinator's gRPC server passes. */
export function authInterceptor(options: AuthInterceptorOptions): grpc.ServerInterceptor {
  return (descriptor, call) => {
    const rule = grpcMethodRules[descriptor.path] ?? unknownMethodRule;
    const action = methodLabel(descriptor.path);
    let principal: Principal | null = null;
    let audited = rule.audit;
    let target: Record<string, unknown> | null = null;
    let firstMessage = true;
    let refused = false;
    let untrack: () => void = () => undefined;
    const refuse = (verdict: Extract<Verdict, { ok: false }>): void => {
      refused = true;
      options.onRefused?.(action, verdict.reason);
      if (audited) writeAudit(options.audit, { principal: verdict.principal, action, target, outcome: grpc.status[verdict.code] ?? String(verdict.code), remote: call.getPeer(), message: verdict.message });
      call.sendStatus({ code: verdict.code, details: verdict.message, metadata: new grpc.Metadata() });
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const verdict = decideCall(options.auth, rule, metadata, options.auth === null ? null : certificateNameOf(call.getAuthContext()));
        if (!verdict.ok) return refuse(verdict);
        principal = verdict.principal;
        if (options.auth !== null && verdict.credential !== undefined) {
          // A reload that removes this credential ends the call (docs/security.md, "Reload on SIGHUP").
          untrack = options.auth.track(verdict.credential, (message) => call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: message, metadata: new grpc.Metadata() }));
        }
        next(stampPrincipal(metadata, principal));
      })
      .withOnReceiveMessage((message, next) => {
        if (firstMessage) {
          firstMessage = false;
          if (rule.escalate?.(message) === true) audited = true;
          if (audited) target = auditTarget(message);
          if (audited && principal !== null) {
            const verdict = check(principal, escalatedRule);
            if (!verdict.ok) return refuse(verdict);
          }
        }
        next(message);
      })
      // The next listener is told by grpc-js itself.
      .withOnCancel(() => untrack())
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        untrack();
        if (audited && !refused) writeAudit(options.audit, { principal, action, target, outcome: grpc.status[status.code ?? 0] ?? String(status.code), remote: call.getPeer(), message: status.code === grpc.status.OK ? undefined : status.details });
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

/**
 * The subject common name of the client certificate of a call, when mutual
 * TLS verified one (the server requires and checks client certificates with
 * --tls-client-auth); null otherwise.
 */
export function certificateNameOf(context: { readonly sslPeerCertificate?: { readonly subject?: { readonly CN?: string | string[] } } } | undefined): string | null {
  const cn = context?.sslPeerCertificate?.subject?.CN;
  if (typeof cn === 'string' && cn !== '') return cn;
  return Array.isArray(cn) && typeof cn[0] === 'string' ? cn[0] : null;
}

function decideCall(auth: Authenticator | null, rule: MethodRule, metadata: grpc.Metadata, certificateName: string | null): Verdict {
  const forwarded: ForwardClaim = { marked: metadata.get(forwardedKey).length > 0, forName: text(metadata, forwardedForKey), forRole: text(metadata, forwardedRoleKey) };
  if (auth === null) {
    // Open: keep the forwarding chain's caller for the audit line, nothing is checked.
    return { ok: true, principal: forwarded.forName === '' ? anonymous : { name: forwarded.forName, role: null, via: 'peer' } };
  }
  return auth.decide(rule, metadata.get(authorizationKey)[0], forwarded, certificateName);
}

// ------------------------------------------------------------------- HTTP

export interface HttpRefusal {
  readonly status: 401 | 403;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The HTTP side of the same table: null when the request may go on, else the
 * answer (401 with a WWW-Authenticate challenge, or 403). Writes the audit
 * line of an admin action (a change of the chaos settings) when `audit` is
 * given. `routes` is the coordinator's table unless a worker passes its own.
 */
export function authorizeHttp(
  auth: Authenticator | null,
  request: { readonly method?: string | undefined; readonly headers: IncomingHttpHeaders; readonly socket?: { readonly remoteAddress?: string | undefined } },
  path: string,
  audit?: AuditSink,
  onRefused?: (route: string, reason: RefusalReason) => void,
  routes: Readonly<Record<string, MethodRule>> = httpRouteRules,
): HttpRefusal | null {
  const base = routes[path] ?? unknownRouteRule;
  const escalated = base.escalate?.(request.method ?? 'GET') === true;
  const rule = escalated ? escalatedRule : base;
  const verdict = auth === null ? ({ ok: true, principal: anonymous } as const) : auth.decide(rule, request.headers.authorization, { marked: false, forName: '', forRole: '' });
  const remote = request.socket?.remoteAddress ?? '';
  if (rule.audit && audit !== undefined) {
    writeAudit(audit, { principal: verdict.principal, action: `HTTP ${request.method ?? 'GET'} ${path}`, target: null, outcome: verdict.ok ? 'allowed' : grpc.status[verdict.code] ?? 'refused', remote });
  }
  if (verdict.ok) return null;
  onRefused?.(`HTTP ${path}`, verdict.reason);
  if (verdict.code === grpc.status.UNAUTHENTICATED) return { status: 401, body: `${verdict.message}\n`, headers: { 'WWW-Authenticate': 'Bearer realm="testudo"' } };
  return { status: 403, body: `${verdict.message}\n`, headers: {} };
}
