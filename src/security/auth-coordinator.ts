import { AuthFileError, loadAuthFile } from './auth-file.js';
import { readTokenFile } from './auth-token.js';
import { Authenticator } from './auth.js';

/** What a coordinator checks callers with, and the token it presents to its peers. */
export interface CoordinatorAuth {
  /** null: an open cluster (no --auth-file). */
  readonly auth: Authenticator | null;
  /** This node's peer token (--token-file), or null. */
  readonly peerToken: string | null;
  /** Settings that work but are probably unintended; logged at startup. */
  readonly warnings: readonly string[];
}

/**
 * Reads `--auth-file` and `--token-file`. With an auth file the token file
 * is required and must be this node's own `peer` entry: otherwise its
 * peers would refuse every message it sends, which is better said now.
 */
export function loadCoordinatorAuth(options: { readonly nodeId: string; readonly authFile: string | null; readonly tokenFile: string | null }): CoordinatorAuth {
  const warnings: string[] = [];
  const peerToken = options.tokenFile === null ? null : readTokenFile(options.tokenFile);
  if (options.authFile === null) {
    if (peerToken !== null) warnings.push('--token-file without --auth-file: this node presents a token but checks no caller (the cluster is open)');
    return { auth: null, peerToken, warnings };
  }
  const file = loadAuthFile(options.authFile);
  const auth = new Authenticator(file);
  if (peerToken === null) {
    // With mutual TLS a peer may prove itself by its certificate instead.
    if (auth.hasPeerCertificate(options.nodeId)) return { auth, peerToken, warnings };
    throw new AuthFileError(
      options.authFile,
      `this node (${options.nodeId}) needs --token-file (TESTUDO_TOKEN_FILE) with its peer token: the token of the peer entry named ${options.nodeId} (or a peer entry with its certificate's common name, under mutual TLS)`,
    );
  }
  if (!auth.isPeerToken(options.nodeId, peerToken)) {
    throw new AuthFileError(options.authFile, `the token in ${options.tokenFile} is not the peer entry named ${options.nodeId}; its peers would refuse it`);
  }
  if (file.clearTokens > 0) warnings.push(`${options.authFile} holds ${file.clearTokens} token(s) in clear; prefer sha256 entries so the file holds no secret`);
  return { auth, peerToken, warnings };
}
