// The parts of TLS that need no cluster: `certs init` as a user runs it, the
// loader's checks, the TLS settings of the coordinator's configuration, and
// the safe defaults that refuse a non-loopback listen before anything binds
// (tested on 192.0.2.1, a documentation address no interface here has, so a
// listen that got through would fail rather than serve).
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError, loadCoordinatorConfig } from '../../src/coordinator/config.js';
import { checkListenPolicy, configFieldSet, isLoopbackHost } from '../../src/security/tls-policy.js';
import { ReloadableTls, TlsMaterialError, loadTlsMaterial } from '../../src/security/tls.js';
import { runCli } from '../cli/cli-process.js';
import { expiredValidity, issueExtra, makeCertSet, type CertSet } from './tls-fixtures.js';

let certs: CertSet;
let scratch: string;

beforeAll(async () => {
  certs = await makeCertSet();
  scratch = await mkdtemp(join(tmpdir(), 'testudo-tls-safety-'));
});

afterAll(async () => {
  await certs?.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

describe('testudo certs init', () => {
  it('writes a CA, node, host and identity certificates with openssl, keys 0600, and lists them on stdout', async () => {
    const dir = join(scratch, 'init');
    const out = await runCli(['certs', 'init', dir, '--hosts', 'n1,coord.example.internal,10.1.2.3', '--identities', 'worker,admin']);
    expect(out.stderr.toString()).toBe('');
    expect(out.code).toBe(0);
    const names = ['ca', 'node', 'n1', 'coord.example.internal', '10.1.2.3', 'worker', 'admin'];
    for (const name of names) {
      expect(out.stdout.toString()).toContain(join(dir, `${name}.pem`));
      expect((await stat(join(dir, `${name}-key.pem`))).mode & 0o777).toBe(0o600);
    }
    const ca = new X509Certificate(await readFile(join(dir, 'ca.pem')));
    expect(ca.ca).toBe(true);
    const n1 = new X509Certificate(await readFile(join(dir, 'n1.pem')));
    expect(n1.subjectAltName).toBe('DNS:n1, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(n1.checkIssued(ca) && n1.verify(ca.publicKey)).toBe(true);
    expect(n1.checkHost('n1')).toBe('n1');
    expect(n1.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(new X509Certificate(await readFile(join(dir, '10.1.2.3.pem'))).checkIP('10.1.2.3')).toBe('10.1.2.3');
    expect(new X509Certificate(await readFile(join(dir, 'admin.pem'))).subject).toBe('O=Testudo\nOU=admin\nCN=admin');
    // Every pair passes the loader's checks (parses, key matches, chains to the CA).
    for (const name of names.slice(1)) expect(loadTlsMaterial({ caFile: join(dir, 'ca.pem'), certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`) }).warnings).toEqual([]);

    const again = await runCli(['certs', 'init', dir]);
    expect(again.code).toBe(2);
    expect(again.stderr.toString()).toMatch(/would overwrite .*ca\.pem.*--force/);
    expect(again.stdout.toString()).toBe('');
    const help = await runCli(['certs', 'init', '--help']);
    expect(help.stdout.toString()).toMatch(/openssl/);
    expect(help.stdout.toString()).toMatch(/--hosts/);
  });
});

describe('loading TLS material', () => {
  it('refuses a missing file, a key of another certificate, an expired certificate and half a pair', async () => {
    const missing = join(scratch, 'missing.pem');
    expect(() => loadTlsMaterial({ caFile: missing, certFile: null, keyFile: null })).toThrow(/missing\.pem: cannot read the CA bundle \(ENOENT\)/);
    expect(() => loadTlsMaterial({ caFile: certs.ca.certFile, certFile: certs.node.certFile, keyFile: certs.client.keyFile })).toThrow(/does not belong to the certificate/);
    const expired = await issueExtra(certs, 'expired-node', { validity: expiredValidity() });
    expect(() => loadTlsMaterial({ caFile: certs.ca.certFile, ...expired })).toThrow(/expired at/);
    expect(() => loadTlsMaterial({ caFile: certs.ca.certFile, certFile: certs.node.certFile, keyFile: null })).toThrow(TlsMaterialError);
  });

  it('warns about a certificate its own CA bundle did not issue', async () => {
    const other = await makeCertSet('testudo-tls-foreign-');
    try {
      const material = loadTlsMaterial({ caFile: certs.ca.certFile, certFile: other.node.certFile, keyFile: other.node.keyFile });
      expect(material.warnings.join('\n')).toMatch(/is not issued by a certificate in/);
    } finally {
      await other.cleanup();
    }
  });

  it('reloads new files, and keeps the material in use when they do not pass', async () => {
    const dir = await mkdtemp(join(scratch, 'reload-'));
    const files = { caFile: certs.ca.certFile, certFile: join(dir, 'c.pem'), keyFile: join(dir, 'k.pem') };
    await copyFile(certs.node.certFile, files.certFile);
    await copyFile(certs.node.keyFile, files.keyFile);
    const tls = ReloadableTls.load(files);
    const first = tls.material.fingerprint256;
    let reloads = 0;
    tls.onReload(() => reloads++);
    await copyFile(certs.worker.certFile, files.certFile);
    const mismatched = tls.reload();
    expect(mismatched.ok).toBe(false);
    expect(tls.material.fingerprint256).toBe(first);
    await copyFile(certs.worker.keyFile, files.keyFile);
    const good = tls.reload();
    expect(good.ok).toBe(true);
    expect(tls.material.fingerprint256).not.toBe(first);
    expect(reloads).toBe(1);
    await writeFile(files.keyFile, 'garbage');
    expect(tls.reload().ok).toBe(false);
    expect(reloads).toBe(1);
  });
});

describe('server names', () => {
  /** Whether a channel to `target` gets through the TLS handshake (name check included). */
  function connects(target: string, credentials: grpc.ChannelCredentials): Promise<boolean> {
    const channel = new grpc.Client(target, credentials);
    return new Promise<boolean>((resolve) => channel.waitForReady(Date.now() + 2_000, (error) => resolve(error === undefined))).finally(() => channel.close());
  }

  it('checks the dialled host against the certificate: an IP address against IP names, a host name against DNS names', async () => {
    const dnsOnly = await issueExtra(certs, 'dns-only', { dnsNames: ['localhost'], ipAddresses: [] });
    const ipOnly = await issueExtra(certs, 'ip-only', { dnsNames: [], ipAddresses: ['127.0.0.1'] });
    const credentials = ReloadableTls.load({ caFile: certs.ca.certFile, certFile: null, keyFile: null }).channelCredentials();
    for (const [pair, viaIp, viaName] of [[dnsOnly, false, true], [ipOnly, true, false]] as const) {
      const server = new grpc.Server();
      const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync('127.0.0.1:0', ReloadableTls.load({ caFile: certs.ca.certFile, ...pair }).serverCredentials(false), (error, p) => (error === null ? resolve(p) : reject(error))),
      );
      try {
        expect(await connects(`127.0.0.1:${port}`, credentials)).toBe(viaIp);
        expect(await connects(`localhost:${port}`, credentials)).toBe(viaName);
      } finally {
        server.forceShutdown();
      }
    }
  });
});

describe('coordinator configuration', () => {
  const BASE = { id: 'n1', peers: 'n1=127.0.0.1:7001', dataDir: '/tmp/unused' };

  it('reads the TLS files from flags, TESTUDO_TLS_* or the config file (relative to it)', async () => {
    const fromFlags = loadCoordinatorConfig({ flags: { ...BASE, tlsCert: 'a.pem', tlsKey: 'a-key.pem', tlsCa: '/etc/ca.pem', tlsClientAuth: true }, env: {} });
    expect(fromFlags.tls).toEqual({ files: { certFile: join(process.cwd(), 'a.pem'), keyFile: join(process.cwd(), 'a-key.pem'), caFile: '/etc/ca.pem' }, clientAuth: true });
    const fromEnv = loadCoordinatorConfig({ flags: BASE, env: { TESTUDO_TLS_CERT: '/c.pem', TESTUDO_TLS_KEY: '/k.pem', TESTUDO_TLS_CA: '/ca.pem', TESTUDO_INSECURE: 'true' } });
    expect(fromEnv.tls?.files).toEqual({ certFile: '/c.pem', keyFile: '/k.pem', caFile: '/ca.pem' });
    expect(fromEnv.tls?.clientAuth).toBe(false);
    expect(fromEnv.insecure).toBe(true);
    const file = join(scratch, 'coordinator.yaml');
    await writeFile(file, ['tlsCert: certs/n1.pem', 'tlsKey: certs/n1-key.pem', 'tlsCa: certs/ca.pem', 'tlsClientAuth: true'].join('\n'));
    const fromFile = loadCoordinatorConfig({ flags: BASE, env: {}, configPath: file });
    expect(fromFile.tls).toEqual({ files: { certFile: join(scratch, 'certs/n1.pem'), keyFile: join(scratch, 'certs/n1-key.pem'), caFile: join(scratch, 'certs/ca.pem') }, clientAuth: true });
    expect(loadCoordinatorConfig({ flags: BASE, env: {} }).tls).toBeNull();
  });

  it('refuses part of the TLS settings, and client auth without TLS', () => {
    expect(() => loadCoordinatorConfig({ flags: { ...BASE, tlsCert: 'a.pem' }, env: {} })).toThrow(ConfigError);
    expect(() => loadCoordinatorConfig({ flags: { ...BASE, tlsCert: 'a.pem' }, env: {} })).toThrow(/set --tls-key \(TESTUDO_TLS_KEY\) and --tls-ca \(TESTUDO_TLS_CA\) too/);
    expect(() => loadCoordinatorConfig({ flags: { ...BASE, tlsClientAuth: true }, env: {} })).toThrow(/--tls-client-auth requires client certificates, which needs TLS/);
  });
});

describe('safe defaults', () => {
  it('tells loopback from everything else', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', 'localhost', '[::1]']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.0.2.1', 'n1', 'example.com', '::2', '128.0.0.1']) expect(isLoopbackHost(host)).toBe(false);
  });

  it('lets a non-loopback listen through only with TLS and tokens, or loudly with --insecure', () => {
    const exposed = [{ setting: '--listen', host: '0.0.0.0' }];
    const input = { role: 'coordinator' as const, addresses: exposed, tls: false, tokens: false, insecure: false };
    expect(checkListenPolicy({ ...input, addresses: [{ setting: '--listen', host: '127.0.0.1' }] })).toEqual({ ok: true, warning: null });
    expect(checkListenPolicy({ ...input, tls: true, tokens: true })).toEqual({ ok: true, warning: null });
    const none = checkListenPolicy(input);
    expect(none.ok).toBe(false);
    expect(!none.ok && none.reason).toMatch(/refusing to serve on --listen 0\.0\.0\.0 without TLS and tokens.*--tls-cert.*--auth-file.*--insecure/);
    const tlsOnly = checkListenPolicy({ ...input, tls: true });
    expect(!tlsOnly.ok && tlsOnly.reason).toMatch(/without tokens/);
    expect(!tlsOnly.ok && tlsOnly.reason).not.toMatch(/--tls-cert/);
    const insecure = checkListenPolicy({ ...input, insecure: true });
    expect(insecure.ok && insecure.warning).toMatch(/^INSECURE: --insecure is set/);
  });

  it('sees a setting by its configuration source', () => {
    expect(configFieldSet({ authFile: 'flag --auth-file' }, 'authFile')).toBe(true);
    expect(configFieldSet({ authFile: 'default' }, 'authFile')).toBe(false);
    expect(configFieldSet({}, 'authFile')).toBe(false);
  });

  it('a coordinator refuses a non-loopback listen without TLS and tokens (exit 2) before it creates or binds anything', async () => {
    const dataDir = join(scratch, 'refused-data');
    const out = await runCli(['coordinator', '--id', 'n1', '--listen', '192.0.2.1:7001', '--peers', 'n1=192.0.2.1:7001', '--data-dir', dataDir]);
    expect(out.code).toBe(2);
    expect(out.stderr.toString()).toMatch(/refusing to serve on --listen 192\.0\.2\.1 without TLS and tokens/);
    expect(out.stderr.toString()).toMatch(/To fix: turn on TLS with --tls-cert/);
    await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
    const tlsOnly = await runCli([
      'coordinator', '--id', 'n1', '--listen', '127.0.0.1:7001', '--http', '192.0.2.1:9101', '--peers', 'n1=127.0.0.1:7001', '--data-dir', dataDir,
      '--tls-cert', certs.node.certFile, '--tls-key', certs.node.keyFile, '--tls-ca', certs.ca.certFile,
    ]);
    expect(tlsOnly.code).toBe(2);
    expect(tlsOnly.stderr.toString()).toMatch(/refusing to serve on --http 192\.0\.2\.1 without tokens/);
    await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
  });

  it('a coordinator refuses TLS files that do not pass (exit 2), naming the file', async () => {
    const expired = await issueExtra(certs, 'expired-coordinator', { validity: expiredValidity() });
    const dataDir = join(scratch, 'expired-data');
    const out = await runCli(['coordinator', '--id', 'n1', '--listen', '127.0.0.1:7001', '--peers', 'n1=127.0.0.1:7001', '--data-dir', dataDir, '--tls-cert', expired.certFile, '--tls-key', expired.keyFile, '--tls-ca', certs.ca.certFile]);
    expect(out.code).toBe(2);
    expect(out.stderr.toString()).toContain(`TLS: ${expired.certFile}: certificate`);
    expect(out.stderr.toString()).toMatch(/expired at/);
    await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
  });

  it('a worker refuses --http on a non-loopback address without TLS and a token, and --insecure lets it try, loudly', async () => {
    const workDir = join(scratch, 'worker');
    const refusedOut = await runCli(['worker', '--coordinators', '127.0.0.1:1', '--work-dir', workDir, '--http', '192.0.2.1:0']);
    expect(refusedOut.code).toBe(2);
    expect(refusedOut.stderr.toString()).toMatch(/refusing to serve on --http 192\.0\.2\.1 without TLS and tokens.*--auth-file/);
    const insecure = await runCli(['worker', '--coordinators', '127.0.0.1:1', '--work-dir', workDir, '--http', '192.0.2.1:0', '--insecure']);
    expect(insecure.stderr.toString()).toMatch(/WARNING: INSECURE: --insecure is set, so this worker serves on --http 192\.0\.2\.1 without TLS and tokens/);
    // No interface has 192.0.2.1: the listen itself fails, so nothing was served.
    expect(insecure.stderr.toString()).toMatch(/EADDRNOTAVAIL/);
    expect(insecure.code).toBe(1);
  });
});
