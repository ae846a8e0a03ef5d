import { AuthFileError, loadAuthFile, type AuthFile } from './auth-file.js';
import { Authenticator } from './auth.js';

/**
 * Reading the auth file again while serving (SIGHUP), for a coordinator and
 * for a worker's HTTP port (docs/security.md, "Reloading the auth file").
 * A file that cannot be used leaves the table in use untouched: a bad edit
 * never turns checking off or locks everyone out.
 */

/** The process whose auth file this is: a coordinator checks that its own peer credential is still in it. */
export interface ReloadOwner {
  readonly nodeId: string;
  /** The coordinator's own peer token (--token-file); null when its certificate proves it. */
  readonly peerToken: string | null;
}

export type AuthReloadResult =
  | { readonly ok: true; readonly accepted: Readonly<Record<string, number>>; readonly callsEnded: number }
  | { readonly ok: false; readonly error: AuthFileError };

/**
 * Reads `path` and, when it passes every check of a start (and, for a
 * coordinator, still holds its own `peer` entry, or its peers would refuse
 * it), makes it `auth`'s table. Calls open under a credential the new file
 * dropped are ended (`Authenticator.replace`).
 */
export function reloadAuthFile(auth: Authenticator, path: string, owner: ReloadOwner | null): AuthReloadResult {
  let file: AuthFile;
  try {
    file = loadAuthFile(path);
    if (owner !== null) checkOwnPeerEntry(file, path, owner);
  } catch (error) {
    if (error instanceof AuthFileError) return { ok: false, error };
    throw error;
  }
  const callsEnded = auth.replace(file);
  return { ok: true, accepted: auth.summary(), callsEnded };
}

function checkOwnPeerEntry(file: AuthFile, path: string, owner: ReloadOwner): void {
  const candidate = new Authenticator(file);
  const held = owner.peerToken === null ? candidate.hasPeerCertificate(owner.nodeId) : candidate.isPeerToken(owner.nodeId, owner.peerToken);
  if (!held) throw new AuthFileError(path, `no longer holds this node's own peer entry (${owner.nodeId}); its peers would refuse it`);
}

/** The few pino methods a reload reports through. */
export interface AuthReloadLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** SIGHUP: switch to the new auth file, or keep the table in use and log one error line saying why (never a token). */
export function reloadAuthLogged(auth: Authenticator, path: string, owner: ReloadOwner | null, log: AuthReloadLogger): AuthReloadResult {
  const result = reloadAuthFile(auth, path, owner);
  if (result.ok) {
    log.info({ event: 'auth-reloaded', file: path, accepted: result.accepted, callsEnded: result.callsEnded }, 'reloaded the auth file: every new call is checked against it');
  } else {
    log.error({ event: 'auth-reload-refused', file: path, problem: result.error.message }, `refused the new auth file, kept the one in use: ${result.error.message}`);
  }
  return result;
}
