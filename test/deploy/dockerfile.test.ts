import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { dockerfileProblems, parseDockerfile } from './dockerfile-lint.js';
import { deployDir, repoRoot } from './files.js';

const dockerfile = readFileSync(join(deployDir, 'Dockerfile'), 'utf8');
const healthcheck = join(deployDir, 'healthcheck.mjs');

describe('deploy/Dockerfile', () => {
  it('passes the structural check: pinned base, two stages, production deps, non-root, HEALTHCHECK, ENTRYPOINT', () => {
    expect(dockerfileProblems(dockerfile)).toEqual([]);
  });

  it('the structural check names each problem of a careless Dockerfile (planted)', () => {
    const careless = 'FROM node:latest\nRUN npm install\nUSER root\nCMD ["node", "main.js"]\n';
    const problems = dockerfileProblems(careless).join('\n');
    expect(problems).toMatch(/1 stage/);
    expect(problems).toMatch(/FROM node:latest is not pinned/);
    expect(problems).toMatch(/runs as root/);
    expect(problems).toMatch(/no HEALTHCHECK/);
    expect(problems).toMatch(/no ENTRYPOINT/);
    expect(problems).toMatch(/--omit=dev/);
  });

  it('copies only files that exist and that its ignore file lets into the build context', () => {
    const ignored = readFileSync(join(deployDir, 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['deploy/certs', '.git', '**/node_modules']));
    for (const ins of parseDockerfile(dockerfile).filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))) {
      const sources = ins.args.split(/\s+/).slice(0, -1);
      for (const source of sources.filter((s) => s !== '.')) {
        expect(existsSync(join(repoRoot, source)), `line ${ins.line}: ${source}`).toBe(true);
        expect(ignored.some((pattern) => source === pattern || source.startsWith(`${pattern}/`)), `line ${ins.line}: ${source} is ignored`).toBe(false);
      }
    }
  });
});

/** Runs healthcheck.mjs; resolves with its exit code and stderr. */
function probe(path: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [healthcheck, path], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('deploy/healthcheck.mjs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'testudo-healthcheck-'));
  const servers: Server[] = [];
  let httpPort = 0;
  let httpsPort = 0;
  const file = (name: string): string => join(dir, name);

  beforeAll(async () => {
    // A CA, a server certificate for 127.0.0.1 and a client certificate, and
    // a second CA that signed nothing here: real TLS, made by openssl.
    const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
    for (const ca of ['ca', 'other-ca']) openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${ca}`, '-keyout', `${ca}.key`, '-out', `${ca}.crt`);
    for (const leaf of ['server', 'client']) {
      openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${leaf}`, '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`);
      openssl('x509', '-req', '-in', `${leaf}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', `${leaf}.crt`);
    }
    const answer = (req: { url?: string }, res: { writeHead: (s: number) => { end: (b: string) => void } }): void => {
      if (req.url === '/livez') res.writeHead(200).end('ok\n');
      else res.writeHead(503).end('no leader\n');
    };
    const plain = createHttpServer(answer);
    const tls = createHttpsServer(
      { key: readFileSync(file('server.key')), cert: readFileSync(file('server.crt')), ca: readFileSync(file('ca.crt')), requestCert: true, rejectUnauthorized: true },
      answer,
    );
    servers.push(plain, tls);
    httpPort = await listen(plain);
    httpsPort = await listen(tls);
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 on a 2xx answer and 1 on a 503, over plain HTTP', async () => {
    expect((await probe('/livez', { HEALTHCHECK_PORT: String(httpPort) })).code).toBe(0);
    const notReady = await probe('/readyz', { HEALTHCHECK_PORT: String(httpPort) });
    expect(notReady.code).toBe(1);
    expect(notReady.stderr).toMatch(/503/);
  });

  it('speaks mutual TLS with the CA, certificate and key from TESTUDO_TLS_*', async () => {
    const tlsEnv = { HEALTHCHECK_PORT: String(httpsPort), TESTUDO_TLS_CA: file('ca.crt'), TESTUDO_TLS_CERT: file('client.crt'), TESTUDO_TLS_KEY: file('client.key') };
    expect((await probe('/livez', tlsEnv)).code).toBe(0);
    // Without a client certificate the server refuses the handshake.
    expect((await probe('/livez', { HEALTHCHECK_PORT: String(httpsPort), TESTUDO_TLS_CA: file('ca.crt') })).code).toBe(1);
    // A server certificate from a CA it does not trust is refused.
    expect((await probe('/livez', { ...tlsEnv, TESTUDO_TLS_CA: file('other-ca.crt') })).code).toBe(1);
    // Plain HTTP to a TLS port gets no 2xx.
    expect((await probe('/livez', { HEALTHCHECK_PORT: String(httpsPort) })).code).toBe(1);
  });

  it('exits 1 when nothing listens, and 2 on a path it does not probe', async () => {
    const closed = createHttpServer();
    const port = await listen(closed);
    await new Promise((resolve) => closed.close(resolve));
    expect((await probe('/livez', { HEALTHCHECK_PORT: String(port) })).code).toBe(1);
    expect((await probe('/status', { HEALTHCHECK_PORT: String(httpPort) })).code).toBe(2);
  });
});
