// The one place the CLI turns an error into an exit code and a message.
// Every command throws; main() calls failureOf() and prints what it returns
// on stderr. The table is docs/cli.md#exit-codes; `testudo --help` points there.

import { CommanderError } from 'commander';
import {
  AuthRefusedError,
  DeadlineExceededError,
  ForwardLostError,
  InvalidArgumentError,
  NoLeaderError,
  NotFoundError,
  RetriesExhaustedError,
  TestudoError,
  UnavailableError,
} from '../client/errors.js';
// Leaf modules, not the barrels: every command loads this file, most need little else.
import { CorruptionError, DurableStateRolledBackError, RaftError } from '../raft/core/errors.js';
import { SpecError } from '../spec/errors.js';
import { printableLines } from '../common/printable.js';

/** Exit codes shared by every command (docs/cli.md#exit-codes). */
export const ExitCode = {
  ok: 0,
  /** Tests failed, the run was cancelled, or the thing asked for does not exist. */
  failed: 1,
  /** Bad flags or arguments, a bad spec. */
  usage: 2,
  /** No coordinator answered, no leader, or damaged data. */
  unavailable: 3,
  /** The cluster refused the caller's token or role. */
  authRefused: 4,
  /** `testudo run` stopped watching after a second Ctrl-C (128 + SIGINT). */
  interrupted: 130,
} as const;

/** Exit code of a command the cluster refused: no token, a token it does not accept, or one whose role may not do this. */
export const exitAuthRefused = ExitCode.authRefused;

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

/** Where a command looked for the cluster, for the message that says it found none. */
export interface ClusterTarget {
  readonly endpoints: readonly string[];
  /** True when no flag or variable named them: `testudo up`'s addresses. */
  readonly localDefault: boolean;
  readonly waitMs: number;
  /** True when TLS flags or variables are set. */
  readonly tls: boolean;
}

/** No coordinator answered usefully within the wait (down, no leader, timed out): exit 3. */
export class ClusterUnreachableError extends Error {
  override readonly name = 'ClusterUnreachableError';
  readonly target: ClusterTarget;

  constructor(target: ClusterTarget, cause: unknown) {
    super(unreachableMessage(target, cause), { cause });
    this.target = target;
  }
}

/** True for client errors that mean no coordinator answered usefully (down, no leader, timed out). */
export function isUnreachable(error: unknown): boolean {
  return error instanceof UnavailableError || error instanceof RetriesExhaustedError || error instanceof DeadlineExceededError || error instanceof NoLeaderError;
}

/** Seconds with one decimal: 5000 → "5.0 s". */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The innermost client error of a cause chain (the one that says what happened on the wire). */
function innermost(error: unknown): unknown {
  let current = error;
  for (let depth = 0; depth < causeDepthMax; depth++) {
    const cause = (current as { cause?: unknown } | null)?.cause;
    if (!(cause instanceof TestudoError)) return current;
    current = cause;
  }
  return current;
}
/** Causes followed when looking for the innermost one (chains are two or three long). */
const causeDepthMax = 8;

/**
 * What went wrong on the wire, in words: gRPC's status names, its
 * "Last error: Error: …" nesting and class names are left out.
 */
export function plainReason(error: unknown): string {
  const inner = innermost(error);
  const text = inner instanceof Error ? inner.message : String(inner);
  const where = inner instanceof TestudoError && inner.endpoint !== '' ? `${inner.endpoint}: ` : '';
  if (/ECONNREFUSED/.test(text)) return `${where}connection refused`;
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) return `${where}unknown host`;
  if (/ETIMEDOUT|DEADLINE_EXCEEDED|Deadline exceeded/i.test(text)) return `${where}no answer in time`;
  if (/ECONNRESET|EPIPE/.test(text)) return `${where}connection reset`;
  if (/certificate|SSL|TLS|handshake/i.test(text)) return `${where}TLS handshake failed`;
  const cleaned = withoutClassNames(text)
    .replace(/^\S+:\d+: /, '')
    .replace(/\b[A-Z_]{4,}: /g, '')
    .replace(/\s*Resolution note:.*$/s, '')
    .trim();
  return `${where}${cleaned}`;
}

/** `text` without `SomethingError: ` prefixes (users read messages, not class names). */
export function withoutClassNames(text: string): string {
  return text.replace(/\b[A-Z]?[A-Za-z]*Error: /g, '');
}

function unreachableMessage(target: ClusterTarget, cause: unknown): string {
  const where = target.endpoints.join(', ');
  const what =
    cause instanceof NoLeaderError || innermost(cause) instanceof NoLeaderError
      ? `the coordinators at ${where} have no leader (an election is under way, or most of them are down)`
      : `no coordinator answered at ${where} within ${seconds(target.waitMs)} (last: ${plainReason(cause)})`;
  const next = target.localDefault
    ? 'start a local cluster with `testudo up`, or name yours with --coordinators host:port,… (or TESTUDO_COORDINATORS)'
    : 'check that the coordinators run and that --coordinators names them';
  const tlsHint = target.tls ? '' : '; if the cluster uses TLS, pass --tls-ca (and --tls-cert, --tls-key for mutual TLS)';
  return `cannot reach the Testudo cluster: ${what}\n  ${next}; --wait MS waits longer${tlsHint}`;
}

/** What to print when the cluster refused the caller (`error` is the client's AuthRefusedError). */
export function authRefusedMessage(error: { readonly message: string; readonly grpcCode: number | undefined }): string {
  // 16 = UNAUTHENTICATED, 7 = PERMISSION_DENIED.
  const next =
    error.grpcCode === 16
      ? 'pass a token the cluster accepts with --token-file FILE (or TESTUDO_TOKEN_FILE)'
      : "this token's role may not do this; use a token with the role the message names (roles: readonly < client < admin; worker)";
  return `testudo: refused by the cluster: ${error.message}\n  ${next} (docs/security.md)\n`;
}

/** How a command ended: its exit code and what to print on stderr ('' when it was printed already). */
export interface Failure {
  readonly code: number;
  readonly message: string;
}

/**
 * The exit-code table (docs/cli.md#exit-codes) as code: every error a
 * command may end with maps to one row. Messages have their control
 * characters escaped (they may quote a flag value or a file's bytes) and
 * name no class.
 */
export function failureOf(error: unknown): Failure {
  if (error instanceof CommanderError) return { code: error.exitCode === 0 ? ExitCode.ok : ExitCode.usage, message: '' };
  if (error instanceof ExitError) return { code: error.exitCode, message: '' };
  if (error instanceof UsageError || error instanceof InvalidArgumentError) return { code: ExitCode.usage, message: line(withoutClassNames(error.message)) };
  if (error instanceof SpecError) return { code: ExitCode.usage, message: line(error.message) };
  if (error instanceof AuthRefusedError) return { code: ExitCode.authRefused, message: printableLines(authRefusedMessage(error)) };
  const lost = forwardLost(error);
  if (lost !== null) {
    // Not "unreachable": the leader may have applied the change (docs/protocol.md, forward-lost).
    const advice = 'it may have been applied: look with `testudo cluster status` before trying again';
    return { code: ExitCode.unavailable, message: line(`the coordinator's forward to the leader was lost (${plainReason(lost)}); ${advice}`) };
  }
  if (error instanceof ClusterUnreachableError) return { code: ExitCode.unavailable, message: line(error.message) };
  // A removal that is done but not yet applied by a majority of the remaining voters: the cluster answered.
  if (error instanceof TestudoError && error.code === 'not-applied') return { code: ExitCode.failed, message: line(withoutClassNames(error.message)) };
  if (isUnreachable(error)) return { code: ExitCode.unavailable, message: line(`cannot reach the Testudo cluster: ${plainReason(error)}`) };
  if (error instanceof CorruptionError || error instanceof DurableStateRolledBackError) return { code: ExitCode.unavailable, message: line(`damaged data: ${withoutClassNames(error.message)}`) };
  if (error instanceof NotFoundError) return { code: ExitCode.failed, message: line(withoutClassNames(error.message)) };
  // A data directory of another node, none at all, or one a running node holds: said plainly.
  if (error instanceof RaftError) return { code: ExitCode.failed, message: line(withoutClassNames(error.message)) };
  const text = error instanceof Error ? withoutClassNames(error.message) : String(error);
  return { code: ExitCode.failed, message: line(`unexpected error: ${text}`) };
}

/** The ForwardLostError an error is or was caused by, or null. */
function forwardLost(error: unknown): ForwardLostError | null {
  let current = error;
  for (let depth = 0; depth < causeDepthMax && current instanceof Error; depth++) {
    if (current instanceof ForwardLostError) return current;
    current = current.cause;
  }
  return null;
}

function line(text: string): string {
  return `testudo: ${printableLines(text)}\n`;
}
