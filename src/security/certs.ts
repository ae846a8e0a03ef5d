import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';

import { newToken, tokenHash } from './auth-token.js';

/**
 * A development CA and certificates for a local cluster, made by the
 * `openssl` command (no cryptography of our own): `testudo certs init`, and
 * the tests' certificates (expired ones too, through `openssl ca`'s explicit
 * start and end dates).
 */

/** openssl failed, is missing, or the request cannot be met. */
export class CertsError extends Error {
  override readonly name = 'CertsError';
}

/** Longest an openssl command may take (EC keys take milliseconds). */
export const opensslTimeoutMs = 30_000;
/** Largest validity `certs init` issues; development material should not outlive its laptop. */
export const certDaysMax = 3650;
/** Certificates per `certs init`, hosts and identities together. */
export const certsPerInitMax = 64;

export interface KeyPairFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface LeafRequest {
  readonly commonName: string;
  /** Subject OU: 'node' for coordinators, else the identity (worker, client, admin). */
  readonly organizationalUnit: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  /** Days from now, or an explicit window (tests make expired certificates this way). */
  readonly validity: { readonly days: number } | { readonly notBefore: Date; readonly notAfter: Date };
}

const NAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const DNS_PATTERN = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Runs openssl with `args`; rejects with CertsError carrying its stderr. */
export function openssl(args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('openssl', [...args], { cwd, timeout: opensslTimeoutMs, maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) return resolvePromise(stdout);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new CertsError('the openssl command is not installed (Debian: apt-get install openssl)', { cause: error }));
      }
      reject(new CertsError(`openssl ${args[0] ?? ''} failed: ${stderr.trim() || error.message}`, { cause: error }));
    });
  });
}

/** A self-signed CA (EC P-256, SHA-256) that may sign leaf certificates only (pathlen 0). */
export async function makeCa(work: string, out: KeyPairFiles, commonName: string, days: number): Promise<void> {
  const config = join(work, 'ca-req.cnf');
  await writeFile(
    config,
    ['[req]', 'distinguished_name = dn', '[dn]', '[ca_ext]', 'basicConstraints = critical, CA:TRUE, pathlen:0', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash', ''].join('\n'),
  );
  await openssl(
    ['req', '-x509', '-new', '-config', config, '-extensions', 'ca_ext', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', String(days), '-subj', `/O=Testudo/CN=${commonName}`, '-keyout', out.keyFile, '-out', out.certFile],
    work,
  );
  await chmod(out.keyFile, 0o600);
}

/**
 * A leaf certificate signed by `ca`: a new EC P-256 key, the subject
 * O=Testudo/OU=<unit>/CN=<name>, the given DNS and IP subject alternative
 * names, and both TLS server and client use (a coordinator is both, and so is
 * a worker that serves --http over TLS).
 */
export async function issueCertificate(work: string, ca: KeyPairFiles, request: LeafRequest, out: KeyPairFiles): Promise<void> {
  checkName(request.commonName, 'common name');
  checkName(request.organizationalUnit, 'organizational unit');
  for (const dns of request.dnsNames) if (!DNS_PATTERN.test(dns)) throw new CertsError(`${JSON.stringify(dns)} is not a DNS name`);
  for (const ip of request.ipAddresses) if (isIP(ip) === 0) throw new CertsError(`${JSON.stringify(ip)} is not an IP address`);
  const db = await mkdtemp(join(work, 'ca-db-'));
  await writeFile(join(db, 'index.txt'), '');
  // A random serial: two certificates of one CA must never share one.
  await writeFile(join(db, 'serial'), `${randomBytes(16).toString('hex')}\n`);
  const san = [...request.dnsNames.map((d) => `DNS:${d}`), ...request.ipAddresses.map((ip) => `IP:${ip}`)].join(', ');
  const config = join(db, 'ca.cnf');
  await writeFile(config, caConfig(db, ca, san));
  const csr = join(db, 'leaf.csr');
  await openssl(
    ['req', '-new', '-config', config, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-subj', `/O=Testudo/OU=${request.organizationalUnit}/CN=${request.commonName}`, '-keyout', out.keyFile, '-out', csr],
    db,
  );
  await chmod(out.keyFile, 0o600);
  await openssl(['ca', '-batch', '-notext', '-config', config, '-extensions', 'leaf_ext', ...validityArgs(request.validity), '-in', csr, '-out', out.certFile], db);
  await rm(db, { recursive: true, force: true });
}

function caConfig(db: string, ca: KeyPairFiles, san: string): string {
  return [
    '[ca]',
    'default_ca = testudo_ca',
    '[testudo_ca]',
    `database = ${db}/index.txt`,
    `new_certs_dir = ${db}`,
    `serial = ${db}/serial`,
    `certificate = ${ca.certFile}`,
    `private_key = ${ca.keyFile}`,
    'default_md = sha256',
    'policy = policy_any',
    'unique_subject = no',
    'copy_extensions = none',
    '[policy_any]',
    'organizationName = optional',
    'organizationalUnitName = optional',
    'commonName = supplied',
    '[req]',
    'distinguished_name = dn',
    '[dn]',
    '[leaf_ext]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    'extendedKeyUsage = serverAuth, clientAuth',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    ...(san === '' ? [] : [`subjectAltName = ${san}`]),
    '',
  ].join('\n');
}

function validityArgs(validity: LeafRequest['validity']): string[] {
  if ('days' in validity) return ['-days', String(validity.days)];
  if (!(validity.notBefore.getTime() < validity.notAfter.getTime())) throw new CertsError('notBefore must be before notAfter');
  return ['-startdate', opensslTime(validity.notBefore), '-enddate', opensslTime(validity.notAfter)];
}

/** YYYYMMDDHHMMSSZ, the GeneralizedTime form `openssl ca` takes. */
function opensslTime(date: Date): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

function checkName(name: string, what: string): void {
  if (!NAME_PATTERN.test(name)) throw new CertsError(`${what} ${JSON.stringify(name)} must be 1-63 letters, digits, ".", "_" or "-", starting and ending with a letter or digit`);
}

// ---------------------------------------------------------------------------
// certs init

export interface CertsInitOptions {
  readonly dir: string;
  /** Extra coordinator host names (or IPs), one certificate each: <host>.pem. */
  readonly hosts: readonly string[];
  /** Client identities, one certificate each: <identity>.pem (CN and OU = identity). */
  readonly identities: readonly string[];
  readonly days: number;
  /** Overwrite files that exist. */
  readonly force: boolean;
  /**
   * Also write tokens/<name>.token (mode 0600) and auth.yaml (hashes only):
   * one `peer` token per coordinator node id listed here, and one token per
   * role in `tokenRoles`. Undefined or null: no tokens.
   */
  readonly tokenPeers?: readonly string[] | null;
}

/** The roles `certs init --tokens` makes one token each for (besides one `peer` token per coordinator). */
export const tokenRoles = ['worker', 'client', 'admin', 'readonly'] as const;
/** Where `certs init --tokens` puts the tokens, inside its directory. */
export const tokensDirName = 'tokens';
export const authFileName = 'auth.yaml';

export interface WrittenFile {
  readonly path: string;
  readonly mode: number;
  readonly what: string;
}

export const certsInitDefaults = { identities: ['worker', 'client', 'admin'], days: 365, peers: ['n1', 'n2', 'n3'] } as const;

const LOOPBACK_DNS = ['localhost'];
const LOOPBACK_IPS = ['127.0.0.1', '::1'];

interface PlannedLeaf {
  readonly name: string;
  readonly what: string;
  readonly request: LeafRequest;
}

/**
 * Writes ca.pem/ca-key.pem, node.pem (every local coordinator: localhost,
 * 127.0.0.1, ::1), <host>.pem per host (that name too) and <identity>.pem per
 * identity, each with its -key.pem (mode 0600); with `tokenPeers`, also
 * tokens/<peer>.token, tokens/<role>.token and auth.yaml (writeTokens).
 * Files are made in a private temporary directory inside `dir` and moved in
 * once all exist.
 */
export async function initCerts(options: CertsInitOptions): Promise<WrittenFile[]> {
  const dir = resolve(options.dir);
  const leaves = planLeaves(options);
  const tokens = planTokens(options.tokenPeers ?? null);
  const names = ['ca', ...leaves.map((l) => l.name)];
  const pemFiles = names.flatMap((n) => [`${n}.pem`, `${n}-key.pem`]);
  const tokenFiles = tokens === null ? [] : [...tokens.map((t) => join(tokensDirName, `${t.name}.token`)), authFileName];
  const targets = [...pemFiles, ...tokenFiles].map((f) => join(dir, f));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!options.force) {
    const existing = (await Promise.all(targets.map(async (t) => ((await exists(t)) ? t : null)))).filter((t) => t !== null);
    if (existing.length > 0) throw new CertsError(`would overwrite ${existing.join(', ')}; pass --force to replace them, or choose another directory`);
  }
  const work = await mkdtemp(join(dir, '.certs-init-'));
  try {
    const ca = { certFile: join(work, 'ca.pem'), keyFile: join(work, 'ca-key.pem') };
    await makeCa(work, ca, 'Testudo development CA', options.days);
    for (const leaf of leaves) await issueCertificate(work, ca, leaf.request, { certFile: join(work, `${leaf.name}.pem`), keyFile: join(work, `${leaf.name}-key.pem`) });
    const whatOf = new Map<string, string>([['ca', 'development CA: --tls-ca of every coordinator, worker and client'], ...leaves.map((l) => [l.name, l.what] as [string, string])]);
    const planned: WrittenFile[] = [];
    for (const name of names) {
      planned.push({ path: `${name}.pem`, mode: 0o644, what: `certificate, ${whatOf.get(name)}` });
      planned.push({ path: `${name}-key.pem`, mode: 0o600, what: `private key, ${name === 'ca' ? 'signs new certificates: keep it off the cluster' : whatOf.get(name)}` });
    }
    if (tokens !== null) planned.push(...(await writeTokens(work, tokens)));
    if (tokens !== null) await mkdir(join(dir, tokensDirName), { recursive: true, mode: 0o700 });
    const written: WrittenFile[] = [];
    for (const file of planned) {
      const target = join(dir, file.path);
      await chmod(join(work, file.path), file.mode);
      await rename(join(work, file.path), target);
      written.push({ ...file, path: target });
    }
    return written;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface PlannedToken {
  /** The entry's name in auth.yaml and the file's: tokens/<name>.token. */
  readonly name: string;
  readonly role: 'peer' | (typeof tokenRoles)[number];
}

function planTokens(peers: readonly string[] | null): PlannedToken[] | null {
  if (peers === null) return null;
  if (peers.length === 0) throw new CertsError('--peers: name at least one coordinator node id (each gets its own peer token)');
  const seen = new Set<string>(tokenRoles);
  for (const peer of peers) {
    checkName(peer, '--peers: node id');
    if (seen.has(peer)) throw new CertsError(`--peers: ${JSON.stringify(peer)} is named twice or is a role name (${tokenRoles.join(', ')}); tokens/<name>.token must be unique`);
    seen.add(peer);
  }
  if (peers.length + tokenRoles.length > certsPerInitMax) throw new CertsError(`at most ${certsPerInitMax - tokenRoles.length} peers per run`);
  return [...tokenRoles.map((role) => ({ name: role, role })), ...peers.map((name) => ({ name, role: 'peer' as const }))];
}

/**
 * Random tokens (newToken: 32 bytes, base64url), one file each under tokens/ (mode
 * 0600), and auth.yaml: every token's SHA-256 by role, in the format of
 * src/security/auth-file.ts, so the file holds no secret (mode 0644). A
 * coordinator's --token-file is tokens/<its node id>.token, its own `peer`
 * entry (src/security/auth-coordinator.ts).
 */
async function writeTokens(work: string, tokens: readonly PlannedToken[]): Promise<WrittenFile[]> {
  await mkdir(join(work, tokensDirName), { mode: 0o700 });
  const written: WrittenFile[] = [];
  const lines = ['# The tokens the coordinators accept (--auth-file), by role: SHA-256 hashes only.', `# The tokens themselves are in ${tokensDirName}/<name>.token (made by testudo certs init --tokens).`];
  for (const role of [...tokenRoles, 'peer'] as const) {
    lines.push(`${role}:`);
    for (const token of tokens.filter((t) => t.role === role)) {
      const value = newToken();
      const file = join(tokensDirName, `${token.name}.token`);
      await writeFile(join(work, file), `${value}\n`, { mode: 0o600 });
      lines.push(`  - { name: ${token.name}, sha256: ${tokenHash(value).toString('hex')} }`);
      const what = role === 'peer' ? `token, --token-file of coordinator ${token.name} (its peer entry)` : `token, role ${role}: --token-file of ${role === 'worker' ? 'every worker' : `a ${role} caller`}`;
      written.push({ path: file, mode: 0o600, what });
    }
  }
  await writeFile(join(work, authFileName), `${lines.join('\n')}\n`);
  written.push({ path: authFileName, mode: 0o644, what: 'auth file, --auth-file of every coordinator (hashes only, no secret)' });
  return written;
}

function planLeaves(options: CertsInitOptions): PlannedLeaf[] {
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > certDaysMax) throw new CertsError(`days must be an integer from 1 to ${certDaysMax}`);
  const validity = { days: options.days };
  const leaves: PlannedLeaf[] = [
    { name: 'node', what: 'coordinators on this machine (localhost, 127.0.0.1, ::1)', request: { commonName: 'node', organizationalUnit: 'node', dnsNames: LOOPBACK_DNS, ipAddresses: LOOPBACK_IPS, validity } },
  ];
  for (const host of options.hosts) {
    const ip = isIP(host) !== 0;
    if (!ip && !DNS_PATTERN.test(host)) throw new CertsError(`--hosts: ${JSON.stringify(host)} is not a host name or IP address`);
    const name = host.replace(/:/g, '_');
    leaves.push({
      name,
      what: `coordinator at ${host} (and localhost, 127.0.0.1, ::1)`,
      request: { commonName: name, organizationalUnit: 'node', dnsNames: ip ? LOOPBACK_DNS : [host, ...LOOPBACK_DNS.filter((d) => d !== host)], ipAddresses: ip ? [host, ...LOOPBACK_IPS.filter((i) => i !== host)] : LOOPBACK_IPS, validity },
    });
  }
  for (const identity of options.identities) {
    leaves.push({
      name: identity,
      what: `client identity ${identity} (CN=${identity}; also serves a worker's --http on this machine)`,
      request: { commonName: identity, organizationalUnit: identity, dnsNames: LOOPBACK_DNS, ipAddresses: LOOPBACK_IPS, validity },
    });
  }
  const seen = new Set<string>(['ca']);
  for (const leaf of leaves) {
    if (seen.has(leaf.name)) throw new CertsError(`${JSON.stringify(leaf.name)} is named twice (hosts, identities and the fixed names ca and node share one directory)`);
    seen.add(leaf.name);
  }
  if (leaves.length > certsPerInitMax) throw new CertsError(`at most ${certsPerInitMax} certificates per run, got ${leaves.length}`);
  return leaves;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
