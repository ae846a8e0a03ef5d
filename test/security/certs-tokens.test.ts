// `testudo certs init --tokens` as a user runs it: the tokens and the auth
// file it writes are read by the real loaders (loadAuthFile, readTokenFile,
// loadCoordinatorAuth) and each token is accepted for its role and refused
// for the next one up by the coordinator's Authenticator.

import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AuthFileError, loadAuthFile } from '../../src/security/auth-file.js';
import { loadCoordinatorAuth } from '../../src/security/auth-coordinator.js';
import { readTokenFile } from '../../src/security/auth-token.js';
import { Authenticator } from '../../src/security/auth.js';
import type { Access } from '../../src/security/roles.js';
import { runCli } from '../cli/cli-process.js';

let scratch: string;
let dir: string;
let stdout = '';

const peers = ['n1', 'n2', 'n3'];
const noForward = { marked: false, forName: '', forRole: '' };

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'testudo-certs-tokens-'));
  dir = join(scratch, 'certs');
  const out = await runCli(['certs', 'init', dir, '--hosts', 'n1,n2,n3', '--tokens', '--peers', peers.join(',')]);
  expect(out.stderr.toString()).toBe('');
  expect(out.code).toBe(0);
  stdout = out.stdout.toString();
}, 120_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('testudo certs init --tokens', () => {
  it('writes one token per peer and role (0600) and an auth file of hashes only that the loader reads', async () => {
    const names = [...peers, 'worker', 'client', 'admin', 'readonly'];
    expect((await readdir(join(dir, 'tokens'))).sort()).toEqual(names.map((n) => `${n}.token`).sort());
    expect((await stat(join(dir, 'tokens'))).mode & 0o777).toBe(0o700);
    const tokens = new Map<string, string>();
    for (const name of names) {
      const file = join(dir, 'tokens', `${name}.token`);
      expect(stdout).toContain(file);
      expect((await stat(file)).mode & 0o777, name).toBe(0o600);
      const token = readTokenFile(file);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
      tokens.set(name, token);
    }
    expect(new Set(tokens.values()).size).toBe(names.length);

    const auth = loadAuthFile(join(dir, 'auth.yaml'));
    expect(auth.clearTokens).toBe(0);
    expect(auth.entries.map((e) => `${e.role}/${e.name}`).sort()).toEqual(['admin/admin', 'client/client', 'readonly/readonly', 'worker/worker', ...peers.map((p) => `peer/${p}`)].sort());
    const text = await readFile(join(dir, 'auth.yaml'), 'utf8');
    for (const token of tokens.values()) expect(text).not.toContain(token);
  });

  it('each token is accepted for its role and refused for the next one up', () => {
    const authenticator = new Authenticator(loadAuthFile(join(dir, 'auth.yaml')));
    const token = (name: string): string => readTokenFile(join(dir, 'tokens', `${name}.token`));
    const decide = (name: string, access: Access) => authenticator.decide({ access, audit: false }, `Bearer ${token(name)}`, noForward);
    const cases: [string, Access, Access][] = [
      ['readonly', 'readonly', 'client'],
      ['client', 'client', 'admin'],
      ['admin', 'admin', 'worker'],
      ['worker', 'worker', 'readonly'],
      ['n1', 'peer', 'client'],
    ];
    for (const [name, own, higher] of cases) {
      const allowed = decide(name, own);
      expect(allowed.ok, `${name} for ${own}`).toBe(true);
      if (allowed.ok) expect(allowed.principal.name).toBe(name);
      const refused = decide(name, higher);
      expect(refused.ok, `${name} for ${higher}`).toBe(false);
      if (!refused.ok) expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
    }
    // A token that is not in the file (one character changed) is unknown.
    const planted = token('admin').replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    const unknown = authenticator.decide({ access: 'readonly', audit: false }, `Bearer ${planted}`, noForward);
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.code).toBe(grpc.status.UNAUTHENTICATED);
  });

  it("a coordinator takes tokens/<its id>.token as its peer token, and refuses another's", async () => {
    const authFile = join(dir, 'auth.yaml');
    for (const id of peers) {
      const loaded = loadCoordinatorAuth({ nodeId: id, authFile, tokenFile: join(dir, 'tokens', `${id}.token`) });
      expect(loaded.warnings).toEqual([]);
      expect(loaded.peerToken).toBe(readTokenFile(join(dir, 'tokens', `${id}.token`)));
    }
    expect(() => loadCoordinatorAuth({ nodeId: 'n1', authFile, tokenFile: join(dir, 'tokens', 'n2.token') })).toThrow(AuthFileError);
    expect(() => loadCoordinatorAuth({ nodeId: 'n1', authFile, tokenFile: join(dir, 'tokens', 'admin.token') })).toThrow(/not the peer entry named n1/);
  });

  it('refuses to overwrite tokens, a peer named like a role, and --peers without --tokens', async () => {
    const before = await readFile(join(dir, 'tokens', 'admin.token'), 'utf8');
    const again = await runCli(['certs', 'init', dir, '--tokens']);
    expect(again.code).toBe(2);
    expect(again.stderr.toString()).toMatch(/would overwrite .*--force/);
    expect(await readFile(join(dir, 'tokens', 'admin.token'), 'utf8')).toBe(before);

    const clash = await runCli(['certs', 'init', join(scratch, 'clash'), '--tokens', '--peers', 'n1,admin']);
    expect(clash.code).toBe(2);
    expect(clash.stderr.toString()).toMatch(/"admin" is named twice or is a role name/);
    const lone = await runCli(['certs', 'init', join(scratch, 'lone'), '--peers', 'n1']);
    expect(lone.code).toBe(2);
    expect(lone.stderr.toString()).toMatch(/--peers needs --tokens/);

    // The loader is the check: a planted broken auth file is refused.
    const broken = join(scratch, 'broken.yaml');
    await writeFile(broken, (await readFile(join(dir, 'auth.yaml'), 'utf8')).replace('sha256: ', 'sha256: x'));
    expect(() => loadAuthFile(broken)).toThrow(/sha256 must be 64 hex digits/);

    const help = await runCli(['certs', 'init', '--help']);
    expect(help.stdout.toString()).toMatch(/--tokens/);
    expect(help.stdout.toString()).toMatch(/--peers/);
  });
});
