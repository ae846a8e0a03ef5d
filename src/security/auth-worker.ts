import { loadAuthFile } from './auth-file.js';
import { reloadAuthLogged, type AuthReloadLogger, type AuthReloadResult } from './auth-reload.js';
import { Authenticator, type AuditSink } from './auth.js';

/**
 * What a worker checks the callers of its `--http` port with: the
 * coordinators' auth file (`--auth-file`, TESTUDO_AUTH_FILE), read at start
 * and again on SIGHUP. The worker uses only the roles (`workerHttpRouteRules`
 * in roles.ts); its own join token is not needed in it.
 */
export interface WorkerHttpAuth {
  readonly auth: Authenticator;
  /** Audit lines of changes of the chaos settings. */
  readonly audit: AuditSink;
  /** Reads the file again: the new table, or the old one kept and one error line logged. */
  reload(): AuthReloadResult;
}

export interface WorkerAuthLogger extends AuthReloadLogger {
  warn(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): AuditSink;
}

/** Loads `path`; throws AuthFileError (a usage error: exit 2) when it cannot be used. */
export function workerHttpAuth(path: string, log: WorkerAuthLogger): WorkerHttpAuth {
  const file = loadAuthFile(path);
  if (file.clearTokens > 0) log.warn({ event: 'auth-warning' }, `${path} holds ${file.clearTokens} token(s) in clear; prefer sha256 entries so the file holds no secret`);
  const auth = new Authenticator(file);
  return {
    auth,
    audit: log.child({ component: 'audit', audit: true }),
    reload: () => reloadAuthLogged(auth, path, null, log),
  };
}
