import { strict as assert } from 'node:assert';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';

import * as grpc from '@grpc/grpc-js';

/**
 * TLS material (certificate, key, CA) read from files, checked, and handed to
 * grpc-js and node:https so that one reload (SIGHUP) changes what every new
 * connection uses, in both directions, while open connections keep theirs.
 *
 * `ReloadableTls` is a grpc-js CertificateProvider (the experimental API of
 * @grpc/grpc-js 1.14): server credentials built on it call
 * `setSecureContext` on the listening HTTP/2 server when it reports new
 * material, and channel credentials built on it build the secure context of
 * each new connection from the latest material. Nothing here does
 * cryptography: OpenSSL (through node:crypto and node:tls) parses and checks.
 */

/** Where the material comes from. A client may have no certificate of its own (no mutual TLS). */
export interface TlsFiles {
  /** PEM certificate (chain, leaf first) this process presents; null for a client without one. */
  readonly certFile: string | null;
  /** PEM private key of certFile; null exactly when certFile is. */
  readonly keyFile: string | null;
  /** PEM bundle of the CA certificates that peers' certificates must chain to. */
  readonly caFile: string;
}

/** What was loaded, with the facts a log line or a test needs. */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
  /** The leaf certificate's subject, SHA-256 fingerprint and end of validity; '' without a certificate. */
  readonly subject: string;
  readonly fingerprint256: string;
  readonly validTo: string;
  /** Things allowed but probably wrong, e.g. a certificate not issued by the CA bundle. */
  readonly warnings: readonly string[];
}

/** A TLS file is missing, unreadable, malformed, expired, or does not match its key. */
export class TlsMaterialError extends Error {
  override readonly name = 'TlsMaterialError';
  /** The file at fault (or the pair, joined with ' and '). */
  readonly file: string;

  constructor(file: string, problem: string, options?: { cause?: unknown }) {
    super(`${file}: ${problem}`, options);
    this.file = file;
  }
}

/** CA certificates read from one bundle; more is a mistake, not a bundle. */
export const caBundleCertificatesMax = 64;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads and checks the files: each parses, the key matches the certificate,
 * the certificate is valid at `nowMs`, and OpenSSL accepts the three together.
 * Throws TlsMaterialError naming the file and what is wrong with it.
 */
export function loadTlsMaterial(files: TlsFiles, nowMs: number = Date.now()): TlsMaterial {
  if ((files.certFile === null) !== (files.keyFile === null)) {
    throw new TlsMaterialError(files.certFile ?? files.keyFile ?? '', 'a certificate and its key go together: give both --tls-cert and --tls-key, or neither');
  }
  const ca = readPem(files.caFile, 'CA bundle');
  const caCertificates = parseCertificates(files.caFile, ca);
  const warnings: string[] = [];
  for (const c of caCertificates) {
    if (Date.parse(c.validTo) < nowMs) warnings.push(`${files.caFile}: CA certificate ${c.subject} expired at ${c.validTo}`);
  }
  if (files.certFile === null || files.keyFile === null) {
    checkSecureContext(files.caFile, { ca });
    return { ca, cert: null, key: null, subject: '', fingerprint256: '', validTo: '', warnings };
  }
  const cert = readPem(files.certFile, 'certificate');
  const key = readPem(files.keyFile, 'private key');
  const leaf = parseCertificates(files.certFile, cert)[0]!;
  checkValidity(files.certFile, leaf, nowMs);
  checkKeyMatches(files, leaf, parseKey(files.keyFile, key));
  if (!caCertificates.some((c) => leaf.checkIssued(c) && leaf.verify(c.publicKey))) {
    warnings.push(`${files.certFile}: ${leaf.subject.replace(/\n/g, ', ')} is not issued by a certificate in ${files.caFile}; peers that trust only that bundle will refuse it`);
  }
  checkSecureContext(`${files.certFile} and ${files.keyFile}`, { ca, cert, key });
  return { ca, cert, key, subject: leaf.subject.replace(/\n/g, ', '), fingerprint256: leaf.fingerprint256, validTo: leaf.validTo, warnings };
}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new TlsMaterialError(file, `cannot read the ${what} (${code})`, { cause: error });
  }
}

function parseCertificates(file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsMaterialError(file, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  if (blocks.length > caBundleCertificatesMax) throw new TlsMaterialError(file, `holds ${blocks.length} certificates; at most ${caBundleCertificatesMax} are read`);
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new TlsMaterialError(file, `certificate ${i + 1} does not parse: ${(error as Error).message}`, { cause: error });
    }
  });
}

function parseKey(file: string, pem: Buffer): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new TlsMaterialError(file, `is not a readable unencrypted PEM private key: ${(error as Error).message}`, { cause: error });
  }
}

function checkValidity(file: string, leaf: X509Certificate, nowMs: number): void {
  const subject = leaf.subject.replace(/\n/g, ', ');
  if (Date.parse(leaf.validTo) < nowMs) throw new TlsMaterialError(file, `certificate ${subject} expired at ${leaf.validTo}`);
  if (Date.parse(leaf.validFrom) > nowMs) throw new TlsMaterialError(file, `certificate ${subject} is not valid before ${leaf.validFrom}`);
}

function checkKeyMatches(files: TlsFiles, leaf: X509Certificate, key: KeyObject): void {
  if (!leaf.checkPrivateKey(key)) {
    throw new TlsMaterialError(`${files.certFile} and ${files.keyFile}`, 'the private key does not belong to the certificate');
  }
}

function checkSecureContext(file: string, options: SecureContextOptions): void {
  try {
    createSecureContext(options);
  } catch (error) {
    throw new TlsMaterialError(file, `refused by OpenSSL: ${(error as Error).message}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------
// Reloadable source

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

export type TlsReloadResult = { readonly ok: true; readonly material: TlsMaterial } | { readonly ok: false; readonly error: TlsMaterialError; readonly kept: TlsMaterial };

/** Where an HTTPS server gets its secure context, now and after each reload. */
export interface TlsContextSource {
  secureContextOptions(): SecureContextOptions;
  /** Calls `listener` after every successful reload; returns the unsubscribe function. */
  onReload(listener: () => void): () => void;
}

/**
 * The TLS material of one process. `reload()` reads the files again and
 * switches to them only when they pass every check of loadTlsMaterial;
 * otherwise the material in use is kept and the error returned.
 */
export class ReloadableTls implements grpc.experimental.CertificateProvider, TlsContextSource {
  readonly files: TlsFiles;
  private materialValue: TlsMaterial;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly reloadListeners = new Set<() => void>();
  private channelCredentialsValue: grpc.ChannelCredentials | null = null;
  private readonly nowMs: () => number;

  private constructor(files: TlsFiles, material: TlsMaterial, nowMs: () => number) {
    this.files = files;
    this.materialValue = material;
    this.nowMs = nowMs;
  }

  /** Loads the files once; throws TlsMaterialError when they do not pass. */
  static load(files: TlsFiles, nowMs: () => number = Date.now): ReloadableTls {
    return new ReloadableTls(files, loadTlsMaterial(files, nowMs()), nowMs);
  }

  get material(): TlsMaterial {
    return this.materialValue;
  }

  get hasIdentity(): boolean {
    return this.materialValue.cert !== null;
  }

  reload(): TlsReloadResult {
    let next: TlsMaterial;
    try {
      next = loadTlsMaterial(this.files, this.nowMs());
    } catch (error) {
      if (!(error instanceof TlsMaterialError)) throw error;
      return { ok: false, error, kept: this.materialValue };
    }
    // The file names are fixed at start, so a reload never adds or drops the certificate itself.
    assert((next.cert !== null) === (this.materialValue.cert !== null), 'a reload changed whether there is a certificate');
    this.materialValue = next;
    // Identity before CA: both land in the same turn of the event loop, so no handshake sees a mix.
    for (const listener of this.identityListeners) listener(this.identityUpdate());
    for (const listener of this.caListeners) listener(this.caUpdate());
    for (const listener of this.reloadListeners) listener();
    return { ok: true, material: next };
  }

  /**
   * Credentials for a gRPC server. With `requireClientCertificate` a client
   * must present a certificate that chains to the CA bundle (mutual TLS);
   * without it one is asked for but not required.
   */
  serverCredentials(requireClientCertificate: boolean): grpc.ServerCredentials {
    if (!this.hasIdentity) throw new TlsMaterialError(this.files.caFile, 'a server needs a certificate and key (--tls-cert, --tls-key)');
    // grpc-js 1.14 passes this function's first two arguments to the constructor in the other order; one provider for both makes that moot.
    return grpc.experimental.createCertificateProviderServerCredentials(this, this, requireClientCertificate);
  }

  /**
   * Credentials for gRPC channels: the server's certificate must chain to the
   * CA bundle and name the host dialled (DNS or IP subject alternative name);
   * this process's certificate, when it has one, is presented. One object per
   * source, so channels to one address share connections.
   */
  channelCredentials(): grpc.ChannelCredentials {
    quietIpServerNameWarning();
    this.channelCredentialsValue ??= grpc.experimental.createCertificateProviderChannelCredentials(this, this.hasIdentity ? this : null);
    return this.channelCredentialsValue;
  }

  secureContextOptions(): SecureContextOptions {
    const m = this.materialValue;
    return m.cert === null || m.key === null ? { ca: m.ca } : { ca: m.ca, cert: m.cert, key: m.key };
  }

  onReload(listener: () => void): () => void {
    this.reloadListeners.add(listener);
    return () => this.reloadListeners.delete(listener);
  }

  // grpc-js CertificateProvider: the current material is delivered on a later tick, as grpc-js's own file watcher does.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(() => {
      if (this.caListeners.has(listener)) listener(this.caUpdate());
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => {
      if (this.identityListeners.has(listener)) listener(this.identityUpdate());
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private caUpdate(): grpc.experimental.CaCertificateUpdate {
    return { caCertificate: this.materialValue.ca };
  }

  private identityUpdate(): grpc.experimental.IdentityCertificateUpdate | null {
    const m = this.materialValue;
    return m.cert === null || m.key === null ? null : { certificate: m.cert, privateKey: m.key };
  }
}

/**
 * Channel credentials for a program that talks to a TLS cluster (the
 * TestudoClient `credentials` option): the CA bundle that the coordinators'
 * certificates chain to and, for mutual TLS, this client's certificate and key.
 * Throws TlsMaterialError when a file does not pass.
 */
export function clientTlsCredentials(files: { caFile: string; certFile?: string; keyFile?: string }): grpc.ChannelCredentials {
  return ReloadableTls.load({ caFile: files.caFile, certFile: files.certFile ?? null, keyFile: files.keyFile ?? null }).channelCredentials();
}

let ipServerNameWarningQuiet = false;

/**
 * grpc-js sends the host it dials as the TLS server name (SNI), an IP
 * address included, and Node then prints deprecation DEP0123 ("Setting the
 * TLS ServerName to an IP address is not permitted by RFC 6066") on stderr,
 * once per process. Dialling 127.0.0.1 or a node's IP over TLS is what this
 * cluster does on purpose, and the certificate is still checked against the
 * IP address: only that one warning is dropped, every other passes through.
 */
function quietIpServerNameWarning(): void {
  if (ipServerNameWarningQuiet) return;
  ipServerNameWarningQuiet = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    const options = args[1];
    const code = typeof options === 'object' && options !== null ? (options as { code?: unknown }).code : args[2];
    if (code === 'DEP0123') return;
    emitWarning(...args);
  }) as typeof process.emitWarning;
}

/** The few pino methods a reload reports through. */
export interface TlsReloadLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** SIGHUP: switch to the new files, or keep the material in use and log one error line saying why. */
export function reloadTlsLogged(tls: ReloadableTls, log: TlsReloadLogger): TlsReloadResult {
  const result = tls.reload();
  if (result.ok) {
    const m = result.material;
    log.info({ event: 'tls-reloaded', subject: m.subject, validTo: m.validTo, fingerprint256: m.fingerprint256 }, 'reloaded the TLS files: new connections use them');
    for (const warning of m.warnings) log.warn({ event: 'tls-warning' }, warning);
  } else {
    log.error(
      { event: 'tls-reload-refused', problem: result.error.message, keptFingerprint256: result.kept.fingerprint256 },
      `refused the new TLS files, kept the ones in use: ${result.error.message}`,
    );
  }
  return result;
}
