import type { Command } from 'commander';

import { TokenFileError, tokenFromFlagOrEnv } from '../security/auth-token.js';
import { UsageError } from './errors.js';

/** Adds `--token-file` to a command that talks to the cluster. */
export function withTokenFile(cmd: Command): Command {
  return cmd.option('--token-file <file>', 'the token to present when the cluster checks callers (env TESTUDO_TOKEN_FILE)');
}

/**
 * The token of `--token-file`, else TESTUDO_TOKEN_FILE, as TestudoClient
 * options (none for an open cluster). A missing or malformed file is a
 * usage error (exit 2) that names the file, never its content.
 */
export function tokenOptions(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): { token?: string } {
  try {
    const token = tokenFromFlagOrEnv(tokenFile, env);
    return token === null ? {} : { token };
  } catch (error) {
    if (error instanceof TokenFileError) throw new UsageError(error.message);
    throw error;
  }
}
