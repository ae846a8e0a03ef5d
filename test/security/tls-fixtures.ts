// TLS material for the tests, made by `certs init`'s code (openssl) in a
// temporary directory: a development CA with its node and identity
// certificates, and extra certificates (expired, rotated) from the same CA.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';

import { initCerts, issueCertificate, type KeyPairFiles, type LeafRequest } from '../../src/security/certs.js';

export interface CertSet {
  readonly dir: string;
  readonly ca: KeyPairFiles;
  /** node.pem: localhost, 127.0.0.1, ::1. */
  readonly node: KeyPairFiles;
  readonly worker: KeyPairFiles;
  readonly client: KeyPairFiles;
  cleanup(): Promise<void>;
}

export async function makeCertSet(prefix = 'testudo-tls-'): Promise<CertSet> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await initCerts({ dir, hosts: [], identities: ['worker', 'client'], days: 2, force: false });
  const pair = (name: string): KeyPairFiles => ({ certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}-key.pem`) });
  return { dir, ca: pair('ca'), node: pair('node'), worker: pair('worker'), client: pair('client'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A new leaf of `set`'s CA, written as <name>.pem / <name>-key.pem in its directory. */
export async function issueExtra(set: CertSet, name: string, overrides: Partial<LeafRequest> = {}): Promise<KeyPairFiles> {
  const out = { certFile: join(set.dir, `${name}.pem`), keyFile: join(set.dir, `${name}-key.pem`) };
  const request: LeafRequest = { commonName: name, organizationalUnit: name, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validity: { days: 1 }, ...overrides };
  await issueCertificate(set.dir, set.ca, request, out);
  return out;
}

/** A certificate whose validity ended in 2021. */
export function expiredValidity(): LeafRequest['validity'] {
  return { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') };
}

export async function fingerprintOf(certFile: string): Promise<string> {
  return new X509Certificate(await readFile(certFile)).fingerprint256;
}

/**
 * Opens a new TLS connection to `address` (as gRPC would: ALPN h2, or
 * http/1.1 for an HTTPS port; the CA bundle, a client certificate) and returns the fingerprint of the
 * certificate the server presented.
 */
export function presentedFingerprint(address: string, set: CertSet, protocol: 'h2' | 'http/1.1' = 'h2', timeoutMs = 5_000): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    void Promise.all([readFile(set.ca.certFile), readFile(set.client.certFile), readFile(set.client.keyFile)]).then(([ca, cert, key]) => {
      const socket = connect({ host, port, ca, cert, key, ALPNProtocols: [protocol], timeout: timeoutMs }, () => {
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        socket.destroy();
        resolve(fingerprint);
      });
      socket.on('timeout', () => socket.destroy(new Error(`no TLS handshake with ${address} within ${timeoutMs} ms`)));
      socket.on('error', reject);
    }, reject);
  });
}
