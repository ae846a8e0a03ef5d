import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';

import { tokenHash, tokenProblem } from './auth-token.js';
import { ROLES, isRole, type Role } from './roles.js';

/**
 * The coordinator's `--auth-file` (TESTUDO_AUTH_FILE): the tokens it accepts,
 * by role. YAML (JSON is YAML too):
 *
 *     admin:
 *       - name: alice
 *         sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
 *     client:
 *       - { name: ci, sha256: … }
 *     readonly: []
 *     worker:
 *       - { name: fleet, sha256: … }     # a join token every worker presents
 *     peer:
 *       - { name: n1, sha256: … }        # one per coordinator, named by its node id
 *
 * An entry gives `sha256` (hex SHA-256 of the token: the file then holds no
 * secret; `printf %s "$TOKEN" | sha256sum`) or, discouraged, `token` in
 * clear, or `certificate`: the subject common name of a client certificate
 * that mutual TLS verified (the caller then needs no token). Names are what
 * audit lines and logs show; a token never is.
 */

/**
 * Entries one auth file may hold. Every call compares its token with every
 * entry (constant time), so this bounds the cost of a call: about 0.1 ms at
 * 1000 entries (docs/security.md).
 */
export const authEntriesMax = 1000;
const namePattern = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/;
const sha256Pattern = /^[0-9a-fA-F]{64}$/;

export interface TokenEntry {
  readonly role: Role;
  readonly name: string;
  /** SHA-256 of the token, 32 bytes. */
  readonly hash: Buffer;
}

/** An identity proven by a client certificate (mutual TLS) instead of a token. */
export interface CertificateEntry {
  readonly role: Role;
  readonly name: string;
  /** The certificate's subject common name. */
  readonly commonName: string;
}

export interface AuthFile {
  readonly path: string;
  readonly entries: readonly TokenEntry[];
  readonly certificates: readonly CertificateEntry[];
  /** Entries that hold a token in clear (the file is then a secret itself). */
  readonly clearTokens: number;
}

/** The auth file cannot be read or does not follow the format; names the place and the problem, never a token. */
export class AuthFileError extends Error {
  override readonly name = 'AuthFileError';
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(`auth file ${path}: ${problem}`, options);
    this.path = path;
  }
}

export function loadAuthFile(path: string): AuthFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AuthFileError(path, `cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  return parseAuthFile(text, path);
}

export function parseAuthFile(text: string, path: string): AuthFile {
  // Every value is a string: with the failsafe schema a hash of only digits stays text, not a number.
  const doc = parseDocument(text, { prettyErrors: false, schema: 'failsafe' });
  if (doc.errors.length > 0) throw new AuthFileError(path, `not YAML/JSON: ${doc.errors[0]!.message}`);
  const root: unknown = doc.contents;
  if (!isMap(root)) throw new AuthFileError(path, `must map roles (${ROLES.join(', ')}) to lists of {name, sha256}`);
  const entries: TokenEntry[] = [];
  const certificates: CertificateEntry[] = [];
  let clearTokens = 0;
  for (const pair of root.items) {
    const role = String((pair.key as { value?: unknown } | null)?.value ?? pair.key);
    if (!isRole(role)) throw new AuthFileError(path, `unknown role ${JSON.stringify(role)}; roles are ${ROLES.join(', ')}`);
    if (pair.value === null || (isScalar(pair.value) && (pair.value.value === null || pair.value.value === ''))) continue;
    if (!isSeq(pair.value)) throw new AuthFileError(path, `${role}: must be a list of {name, sha256}`);
    for (const [i, item] of (pair.value.toJSON() as unknown[]).entries()) {
      const entry = parseEntry(item, role, `${role}[${i}]`, path);
      if ('commonName' in entry) {
        certificates.push({ role, name: entry.name, commonName: entry.commonName });
        continue;
      }
      if (entry.clear) clearTokens++;
      entries.push({ role, name: entry.name, hash: entry.hash });
    }
  }
  checkEntries(entries, certificates, path);
  return { path, entries, certificates, clearTokens };
}

function parseEntry(item: unknown, role: Role, at: string, path: string): { name: string; hash: Buffer; clear: boolean } | { name: string; commonName: string } {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new AuthFileError(path, `${at}: must be {name, sha256}, {name, token} or {name, certificate}`);
  const { name, sha256, token, certificate, ...rest } = item as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new AuthFileError(path, `${at}: unknown field ${JSON.stringify(extra[0])} (fields: name, sha256, token, certificate)`);
  if (typeof name !== 'string' || !namePattern.test(name)) {
    throw new AuthFileError(path, `${at}: name must be letters, digits and _.@- (at most 64, starting with a letter or digit)${role === 'peer' ? ", the coordinator's node id" : ''}`);
  }
  if ([sha256, token, certificate].filter((v) => v !== undefined).length !== 1) throw new AuthFileError(path, `${at} (${name}): give exactly one of sha256, token and certificate`);
  if (certificate !== undefined) {
    if (typeof certificate !== 'string' || certificate === '' || certificate.length > 256) throw new AuthFileError(path, `${at} (${name}): certificate must be a subject common name (1 to 256 characters)`);
    return { name, commonName: certificate };
  }
  if (sha256 !== undefined) {
    if (typeof sha256 !== 'string' || !sha256Pattern.test(sha256)) throw new AuthFileError(path, `${at} (${name}): sha256 must be 64 hex digits`);
    return { name, hash: Buffer.from(sha256, 'hex'), clear: false };
  }
  const problem = typeof token === 'string' ? tokenProblem(token) : 'token must be a string';
  if (problem !== null) throw new AuthFileError(path, `${at} (${name}): ${problem}`);
  return { name, hash: tokenHash(token as string), clear: true };
}

function checkEntries(entries: readonly TokenEntry[], certificates: readonly CertificateEntry[], path: string): void {
  if (entries.length + certificates.length > authEntriesMax) throw new AuthFileError(path, `holds ${entries.length + certificates.length} entries; at most ${authEntriesMax}`);
  const byCommonName = new Map<string, CertificateEntry>();
  for (const entry of certificates) {
    const twin = byCommonName.get(entry.commonName);
    if (twin !== undefined) throw new AuthFileError(path, `${entry.role} ${entry.name} and ${twin.role} ${twin.name} name the same certificate ${JSON.stringify(entry.commonName)}`);
    byCommonName.set(entry.commonName, entry);
  }
  const byHash = new Map<string, TokenEntry>();
  const names = new Set<string>();
  for (const entry of entries) {
    const hex = entry.hash.toString('hex');
    const twin = byHash.get(hex);
    // One token, one identity: otherwise which role a call has would depend on the order of the file.
    if (twin !== undefined) throw new AuthFileError(path, `${entry.role} ${entry.name} and ${twin.role} ${twin.name} have the same token`);
    byHash.set(hex, entry);
    const key = `${entry.role}/${entry.name}`;
    if (names.has(key)) throw new AuthFileError(path, `two ${entry.role} entries are named ${entry.name}`);
    names.add(key);
  }
}
