/** A command line that cannot be run as given (exit code 2). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Ends the command with `exitCode`; the message (if any) was already printed. */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  readonly exitCode: number;

  constructor(exitCode: number, message = '') {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Exit code of a command the cluster refused: no token, a token it does not accept, or one whose role may not do this. */
export const exitAuthRefused = 4;

/** What to print when the cluster refused the caller (`error` is the client's AuthRefusedError). */
export function authRefusedMessage(error: { readonly message: string; readonly grpcCode: number | undefined }): string {
  // 16 = UNAUTHENTICATED, 7 = PERMISSION_DENIED.
  const next =
    error.grpcCode === 16
      ? 'pass a token the cluster accepts with --token-file FILE (or TESTUDO_TOKEN_FILE)'
      : "this token's role may not do this; use a token with the role the message names (roles: readonly < client < admin; worker)";
  return `testudo: refused by the cluster: ${error.message}\n  ${next} (docs/security.md)\n`;
}
