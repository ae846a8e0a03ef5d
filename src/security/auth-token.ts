import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Tokens as a process presents them: read from `--token-file`
 * (TESTUDO_TOKEN_FILE), sent as `authorization: Bearer <token>` in gRPC
 * metadata and the HTTP header of the same name. Shared by the CLI, the
 * client library, the worker and the coordinator (its peer token); imports
 * nothing of theirs.
 */

/** The metadata key and HTTP header that carry a token. */
export const authorizationKey = 'authorization';
export const tokenFileEnv = 'TESTUDO_TOKEN_FILE';

/** Longest token accepted, in characters; longer ones are refused unread. */
export const tokenCharsMax = 4096;
/** Shortest token accepted: shorter ones are guessable. */
export const tokenCharsMin = 16;
/** Header-safe printable ASCII, no blanks. */
const tokenPattern = /^[\x21-\x7e]+$/;

/** A token file is missing, unreadable, empty or holds something that is not a token. */
export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
  readonly path: string;

  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(`token file ${path}: ${problem}`, options);
    this.path = path;
  }
}

/** Why `token` is not acceptable, or null. Never quotes the token. */
export function tokenProblem(token: string): string | null {
  if (token.length < tokenCharsMin) return `a token must be at least ${tokenCharsMin} characters`;
  if (token.length > tokenCharsMax) return `a token must be at most ${tokenCharsMax} characters`;
  if (!tokenPattern.test(token)) return 'a token must be printable ASCII without blanks';
  return null;
}

/** The token in `path` (one line; surrounding blanks and the final newline are ignored). */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TokenFileError(path, `cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  const token = text.trim();
  const problem = tokenProblem(token);
  if (problem !== null) throw new TokenFileError(path, problem);
  return token;
}

/** `--token-file` if given, else TESTUDO_TOKEN_FILE, else none (an open cluster). */
export function tokenFromFlagOrEnv(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | null {
  const path = flag ?? (env[tokenFileEnv] === '' ? undefined : env[tokenFileEnv]);
  return path === undefined ? null : readTokenFile(path);
}

/** SHA-256 of a token, as the auth file stores it and the coordinator compares it. */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** The token of an `authorization` value, or null when it is not `Bearer <token>`. */
export function parseBearer(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > tokenCharsMax + 7) return null;
  const match = /^Bearer ([\x21-\x7e]+)$/i.exec(value.trim());
  return match === null ? null : match[1]!;
}

/** A new random token: 32 bytes, base64url (for `up`, tests and operators). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

// ------------------------------------------------------ worker session keys

/** Where a worker keeps its session key, next to its id. */
export const sessionKeyFileName = 'session-key';

/**
 * The worker's session key (`<workDir>/session-key`, mode 0600), created on
 * first use. It binds the worker id to this work dir: the leader commits the
 * key's hash when the id first registers, and refuses any later session
 * under that id that presents another key (docs/security.md).
 */
export async function loadOrCreateSessionKey(workDir: string): Promise<string> {
  await mkdir(workDir, { recursive: true });
  const file = join(workDir, sessionKeyFileName);
  try {
    return checkSessionKey(await readFile(file, 'utf8'), file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = newToken();
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, `${key}\n`, { mode: 0o600, flush: true });
  await chmod(temp, 0o600);
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    // Another process made one first: use it.
    return checkSessionKey(await readFile(file, 'utf8'), file);
  } finally {
    await rm(temp, { force: true });
  }
  return key;
}

function checkSessionKey(text: string, file: string): string {
  const key = text.trim();
  if (tokenProblem(key) !== null) throw new TokenFileError(file, 'is not a session key (delete it to register under a new worker id)');
  return key;
}

/** Hex SHA-256 of a session key, as committed in register-worker; '' for none. */
export function sessionKeyHash(key: string): string {
  return key === '' ? '' : createHash('sha256').update(key, 'utf8').digest('hex');
}
