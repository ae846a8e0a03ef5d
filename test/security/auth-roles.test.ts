// The role table, the auth file, the token checks and the redaction of
// tokens from logs, without a cluster (test/security/auth-cluster.test.ts
// runs them against real coordinator processes).

import { Writable } from 'node:stream';

import * as grpc from '@grpc/grpc-js';
import { loadSync, type ServiceDefinition } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';

import { InvalidArgumentError, TestudoClient } from '../../src/client/index.js';
import { authRefusedMessage } from '../../src/cli/errors.js';
import { protoLoaderOptions, protoPath } from '../../src/common/protos.js';
import { createLogger } from '../../src/coordinator/logger.js';
import { AuthFileError, authEntriesMax, parseAuthFile } from '../../src/security/auth-file.js';
import { newToken, parseBearer, tokenHash, tokenProblem } from '../../src/security/auth-token.js';
import { Authenticator, auditTarget, authorizeHttp, certificateNameOf, check, type Verdict } from '../../src/security/auth.js';
import { ROLES, grants, grpcMethodRules, httpRouteRules, type Access } from '../../src/security/roles.js';

const hex = (token: string): string => tokenHash(token).toString('hex');
const tokens = { admin: newToken(), client: newToken(), readonly: newToken(), worker: newToken(), n1: newToken(), n2: newToken() };

function authFileText(): string {
  return [
    'admin:',
    `  - { name: ops, sha256: ${hex(tokens.admin)} }`,
    'client:',
    `  - { name: ci, sha256: ${hex(tokens.client)} }`,
    'readonly:',
    `  - { name: grafana, sha256: ${hex(tokens.readonly)} }`,
    'worker:',
    `  - { name: fleet, sha256: ${hex(tokens.worker)} }`,
    'peer:',
    `  - { name: n1, sha256: ${hex(tokens.n1)} }`,
    `  - { name: n2, token: ${tokens.n2} }`,
  ].join('\n');
}

/** Every RPC path of a .proto file. */
function rpcPaths(file: 'testudo.proto' | 'raft.proto'): string[] {
  const definition = loadSync(protoPath(file), protoLoaderOptions);
  const paths: string[] = [];
  for (const value of Object.values(definition)) {
    if (typeof value !== 'object' || value === null || 'format' in value) continue;
    for (const method of Object.values(value as ServiceDefinition)) paths.push(method.path);
  }
  return paths;
}

/** The RPCs of `paths` with no rule in `rules` (what the table must never leave out). */
function uncovered(paths: readonly string[], rules: Readonly<Record<string, unknown>>): string[] {
  return paths.filter((path) => rules[path] === undefined);
}

describe('the method table', () => {
  it('covers every RPC of proto/testudo.proto and proto/raft.proto', () => {
    const paths = [...rpcPaths('testudo.proto'), ...rpcPaths('raft.proto')];
    expect(paths.length).toBeGreaterThanOrEqual(22);
    expect(uncovered(paths, grpcMethodRules)).toEqual([]);
  });

  it('the coverage check finds a method the table leaves out', () => {
    const { ['/testudo.v1.Kv/Delete']: _dropped, ...planted } = grpcMethodRules;
    expect(uncovered(rpcPaths('testudo.proto'), planted)).toEqual(['/testudo.v1.Kv/Delete']);
  });

  it('names no method the protos do not have (health and reflection aside)', () => {
    const known = new Set([...rpcPaths('testudo.proto'), ...rpcPaths('raft.proto')]);
    const extra = Object.keys(grpcMethodRules).filter((path) => !known.has(path) && !/^\/grpc\.(health|reflection)\./.test(path));
    expect(extra).toEqual([]);
  });

  it('admin implies client implies readonly; worker and peer stand apart', () => {
    const table: [string, Access, boolean][] = [
      ['admin', 'client', true],
      ['admin', 'readonly', true],
      ['client', 'readonly', true],
      ['client', 'admin', false],
      ['readonly', 'client', false],
      ['worker', 'readonly', false],
      ['admin', 'worker', false],
      ['client', 'peer', false],
      ['peer', 'readonly', true],
      ['peer', 'client', false],
      ['readonly', 'open', true],
    ];
    for (const [held, needed, expected] of table) expect([held, needed, grants(held as (typeof ROLES)[number], needed)]).toEqual([held, needed, expected]);
  });

  it('keeps the probes open and everything else behind a role', () => {
    expect(httpRouteRules['/livez']?.access).toBe('open');
    expect(httpRouteRules['/readyz']?.access).toBe('open');
    expect(grpcMethodRules['/grpc.health.v1.Health/Check']?.access).toBe('open');
    const open = Object.entries(grpcMethodRules).filter(([, rule]) => rule.access === 'open').map(([path]) => path);
    expect(open.every((path) => path.startsWith('/grpc.health.v1.'))).toBe(true);
    for (const path of ['/testudo.v1.Kv/Put', '/testudo.v1.Cluster/RemoveMember', '/testudo.v1.Cluster/TransferLeader', '/testudo.v1.Runs/DrainWorker', '/testudo.v1.Runs/ReleaseWorker']) {
      expect([path, grpcMethodRules[path]?.access, grpcMethodRules[path]?.audit]).toEqual([path, 'admin', true]);
    }
    expect(grpcMethodRules['/testudo.v1.Runs/SubmitRun']?.access).toBe('client');
    expect(grpcMethodRules['/testudo.v1.Runs/BreakerConfig']?.escalate?.({ set: '{"window":10}' })).toBe(true);
    expect(grpcMethodRules['/testudo.v1.Runs/BreakerConfig']?.escalate?.({ set: '' })).toBe(false);
  });
});

describe('the auth file', () => {
  it('reads roles, names and hashes (and clear tokens, counted)', () => {
    const file = parseAuthFile(authFileText(), 'auth.yaml');
    expect(file.entries.map((e) => `${e.role}/${e.name}`)).toEqual(['admin/ops', 'client/ci', 'readonly/grafana', 'worker/fleet', 'peer/n1', 'peer/n2']);
    expect(file.clearTokens).toBe(1);
    expect(parseAuthFile(JSON.stringify({ admin: [{ name: 'ops', sha256: hex(tokens.admin) }], readonly: [] }), 'auth.json').entries).toHaveLength(1);
    expect(parseAuthFile(`readonly:\nclient:\n  - { name: digits, sha256: ${'1'.repeat(64)} }`, 'auth.yaml').entries).toHaveLength(1);
  });

  it(`holds at most authEntriesMax (${authEntriesMax}) entries`, () => {
    const file = (n: number): string => `client:\n${Array.from({ length: n }, (_, i) => `  - { name: c${i}, sha256: ${i.toString(16).padStart(64, '0')} }`).join('\n')}`;
    expect(parseAuthFile(file(authEntriesMax), 'a.yaml').entries).toHaveLength(authEntriesMax);
    expect(() => parseAuthFile(file(authEntriesMax + 1), 'a.yaml')).toThrow(/at most 1000/);
  });

  it.each([
    ['an unknown role', 'root:\n  - { name: x, sha256: ' + 'a'.repeat(64) + ' }', /unknown role "root"/],
    ['a bad hash', 'admin:\n  - { name: x, sha256: abc }', /sha256 must be 64 hex digits/],
    ['both hash and token', `admin:\n  - { name: x, sha256: ${'a'.repeat(64)}, token: ${newToken()} }`, /exactly one of sha256, token and certificate/],
    ['one certificate under two names', 'peer:\n  - { name: a, certificate: c }\n  - { name: b, certificate: c }', /name the same certificate/],
    ['a short clear token', 'admin:\n  - { name: x, token: short }', /at least 16 characters/],
    ['one token under two roles', `admin:\n  - { name: a, sha256: ${'b'.repeat(64)} }\nclient:\n  - { name: c, sha256: ${'b'.repeat(64)} }`, /have the same token/],
    ['a bad name', `admin:\n  - { name: "a b", sha256: ${'b'.repeat(64)} }`, /name must be/],
    ['an unknown field', `admin:\n  - { name: a, sha256: ${'b'.repeat(64)}, role: admin }`, /unknown field "role"/],
    ['not a map', '- admin', /must map roles/],
  ])('refuses %s, naming the file and never a token', (_what, text, pattern) => {
    let caught: unknown;
    try {
      parseAuthFile(text, '/etc/testudo/auth.yaml');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AuthFileError);
    expect((caught as Error).message).toMatch(pattern);
    expect((caught as Error).message).toContain('/etc/testudo/auth.yaml');
  });
});

describe('Authenticator', () => {
  const auth = new Authenticator(parseAuthFile(authFileText(), 'auth.yaml'));
  const kvPut = grpcMethodRules['/testudo.v1.Kv/Put']!;
  const kvGet = grpcMethodRules['/testudo.v1.Kv/Get']!;
  const direct = { marked: false, forName: '', forRole: '' };
  const refusal = (v: Verdict): string => (v.ok ? 'ok' : `${grpc.status[v.code]} ${v.reason}`);

  it('identifies each token, hashed or clear, and no other', () => {
    expect(auth.identify(tokens.admin)?.name).toBe('ops');
    expect(auth.identify(tokens.n2)?.name).toBe('n2');
    expect(auth.identify(newToken())).toBeNull();
    expect(auth.identify(`${tokens.admin}x`)).toBeNull();
  });

  it('refuses no token and unknown tokens as UNAUTHENTICATED, a lesser role as PERMISSION_DENIED', () => {
    expect(refusal(auth.decide(kvPut, undefined, direct))).toBe('UNAUTHENTICATED unauthenticated');
    expect(refusal(auth.decide(kvPut, `Basic ${tokens.admin}`, direct))).toBe('UNAUTHENTICATED unauthenticated');
    expect(refusal(auth.decide(kvPut, `Bearer ${newToken()}`, direct))).toBe('UNAUTHENTICATED unauthenticated');
    expect(refusal(auth.decide(kvPut, `Bearer ${tokens.client}`, direct))).toBe('PERMISSION_DENIED wrong-role');
    expect(refusal(auth.decide(kvGet, `Bearer ${tokens.worker}`, direct))).toBe('PERMISSION_DENIED wrong-role');
    expect(refusal(auth.decide(kvPut, `Bearer ${tokens.admin}`, direct))).toBe('ok');
    expect(refusal(auth.decide(kvGet, `bearer ${tokens.readonly}`, direct))).toBe('ok');
  });

  it('takes a forwarded caller only from a peer, and then checks the caller it names', () => {
    const claim = { marked: true, forName: 'mallory', forRole: 'admin' };
    expect(refusal(auth.decide(kvPut, `Bearer ${tokens.client}`, claim))).toBe('PERMISSION_DENIED forged-forward');
    expect(refusal(auth.decide(kvPut, `Bearer ${tokens.admin}`, claim))).toBe('PERMISSION_DENIED forged-forward');
    const forwarded = auth.decide(kvPut, `Bearer ${tokens.n1}`, claim);
    expect(forwarded).toMatchObject({ ok: true, principal: { name: 'mallory', role: 'admin', via: 'n1' } });
    expect(refusal(auth.decide(kvPut, `Bearer ${tokens.n1}`, { marked: true, forName: 'ci', forRole: 'client' }))).toBe('PERMISSION_DENIED wrong-role');
    expect(refusal(auth.decide(kvPut, `Bearer ${tokens.n1}`, { marked: true, forName: 'x', forRole: 'peer' }))).toBe('PERMISSION_DENIED forged-forward');
    // A peer's own call (no caller named) has the peer role: it may read member status, not write.
    expect(refusal(auth.decide(grpcMethodRules['/testudo.v1.Cluster/MemberStatus']!, `Bearer ${tokens.n1}`, { marked: true, forName: '', forRole: '' }))).toBe('ok');
    expect(refusal(auth.decide(kvPut, `Bearer ${tokens.n1}`, { marked: true, forName: '', forRole: '' }))).toBe('PERMISSION_DENIED wrong-role');
  });

  it('takes a client certificate verified by mutual TLS as the identity its common name names, when no token is given', () => {
    const withCerts = new Authenticator(parseAuthFile(`${authFileText()}\n  - { name: n3, certificate: n3.testudo.internal }\n`, 'auth.yaml'));
    const ping = grpcMethodRules['/testudo.raft.v1.RaftPeer/Ping']!;
    expect(withCerts.decide(ping, undefined, direct, 'n3.testudo.internal')).toMatchObject({ ok: true, principal: { name: 'n3', role: 'peer' } });
    expect(refusal(withCerts.decide(ping, undefined, direct, 'someone.else'))).toBe('UNAUTHENTICATED unauthenticated');
    // A token decides when there is one: a certificate does not rescue an unknown token.
    expect(refusal(withCerts.decide(ping, `Bearer ${newToken()}`, direct, 'n3.testudo.internal'))).toBe('UNAUTHENTICATED unauthenticated');
    expect(withCerts.hasPeerCertificate('n3')).toBe(true);
    expect(certificateNameOf({ sslPeerCertificate: { subject: { CN: 'n3.testudo.internal' } } })).toBe('n3.testudo.internal');
    expect(certificateNameOf({ sslPeerCertificate: { subject: { CN: ['a', 'b'] } } })).toBe('a');
    expect(certificateNameOf({})).toBeNull();
    expect(certificateNameOf(undefined)).toBeNull();
  });

  it('lets anything through an open cluster (role null)', () => {
    expect(check({ name: 'anonymous', role: null, via: '' }, kvPut).ok).toBe(true);
  });

  it('answers HTTP with 401 and a challenge, or 403, and leaves the probes open', () => {
    const request = (authorization?: string, method = 'GET'): Parameters<typeof authorizeHttp>[1] => ({ method, headers: authorization === undefined ? {} : { authorization } });
    expect(authorizeHttp(auth, request(), '/livez')).toBeNull();
    expect(authorizeHttp(auth, request(), '/metrics')).toMatchObject({ status: 401, headers: { 'WWW-Authenticate': 'Bearer realm="testudo"' } });
    expect(authorizeHttp(auth, request(`Bearer ${tokens.worker}`), '/status')).toMatchObject({ status: 403 });
    expect(authorizeHttp(auth, request(`Bearer ${tokens.readonly}`), '/metrics')).toBeNull();
    expect(authorizeHttp(auth, request(`Bearer ${tokens.client}`, 'PUT'), '/chaos')).toMatchObject({ status: 403 });
    expect(authorizeHttp(auth, request(`Bearer ${tokens.admin}`, 'PUT'), '/chaos')).toBeNull();
    expect(authorizeHttp(auth, request(), '/nothing-here')).toMatchObject({ status: 401 });
    expect(authorizeHttp(null, request(), '/metrics')).toBeNull();
  });
});

describe('tokens', () => {
  it('parses Bearer values only, and checks token shape without quoting it', () => {
    expect(parseBearer('Bearer abc')).toBe('abc');
    expect(parseBearer('Token abc')).toBeNull();
    expect(parseBearer(undefined)).toBeNull();
    expect(tokenProblem('short')).toMatch(/at least 16/);
    expect(tokenProblem('has a blank in it!!')).toMatch(/without blanks/);
    expect(tokenProblem(newToken())).toBeNull();
  });

  it('an audit target shows what was acted on, never a value', () => {
    expect(auditTarget({ key: 'k', value: Buffer.from('secret'), idempotencyKey: 'i' })).toEqual({ key: 'k' });
    expect(auditTarget({ workerId: 'w-1', reason: 'r', disable: false })).toEqual({ workerId: 'w-1', reason: 'r' });
  });

  it('the client refuses a malformed token before any call, without quoting it', () => {
    let caught: unknown;
    try {
      new TestudoClient({ endpoints: ['127.0.0.1:1'], token: 'not a token at all' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect((caught as Error).message).not.toContain('not a token');
  });

  it('the CLI says what to do next for each refusal', () => {
    expect(authRefusedMessage({ message: 'n1: UNAUTHENTICATED: no token', grpcCode: 16 })).toMatch(/--token-file/);
    expect(authRefusedMessage({ message: 'n1: PERMISSION_DENIED: ci has role client', grpcCode: 7 })).toMatch(/role/);
  });
});

describe('logger redaction', () => {
  it('never writes a token, whatever field carries it', () => {
    const secret = newToken();
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const log = createLogger({ nodeId: 'n1', destination });
    log.info({ authorization: `Bearer ${secret}`, token: secret, sessionKey: secret }, 'top level');
    log.info({ req: { headers: { authorization: `Bearer ${secret}` } }, call: { token: secret } }, 'nested');
    log.child({ component: 'audit', audit: true }).info({ metadata: { authorization: secret } }, 'child');
    expect(lines).toHaveLength(3);
    expect(lines.join('')).not.toContain(secret);
    expect(lines.join('')).toContain('[redacted]');
  });
});
