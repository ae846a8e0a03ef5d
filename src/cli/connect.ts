// How every command that talks to a cluster finds it and how long it waits:
// the one spelling `--coordinators host:port,…` (else TESTUDO_COORDINATORS,
// else `testudo up`'s addresses), `--wait <ms>`, the TLS flags and the token.
// Old spellings (--endpoints, --timeout-ms, TESTUDO_ENDPOINTS) still work,
// hidden from the help, with a deprecation note on stderr.

import { Option, type Command } from 'commander';
import { TestudoClient, retryAttemptsMaxLimit, type TestudoClientOptions } from '../client/index.js';
import { tokenOptions, withTokenFile } from './auth-flags.js';
import { ClusterUnreachableError, ExitError, UsageError, isUnreachable, type ClusterTarget } from './errors.js';
import { endpointListFlag, integerFlag } from './flags.js';
import { clientTlsOf, tlsFilesOf, withTlsOptions, type TlsFlagValues } from './tls-flags.js';

/** Where the client commands look for the cluster unless told otherwise (`testudo up`'s defaults). */
export const defaultCoordinators = '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003';
/** How long a command keeps trying to reach the cluster before it says it cannot (exit 3). */
export const waitMsDefault = 5_000;
/** The longest `--wait` accepted (a day). */
export const waitMsMax = 86_400_000;
/** One call never waits longer than this for its answer before it is tried again (elsewhere). */
export const callTimeoutMsMax = 10_000;

/** The spellings kept for old scripts: the old name, the one to use instead. */
export const deprecatedSpellings = {
  endpoints: { old: '--endpoints', use: '--coordinators' },
  timeoutMs: { old: '--timeout-ms', use: '--wait' },
  envEndpoints: { old: 'TESTUDO_ENDPOINTS', use: 'TESTUDO_COORDINATORS' },
} as const;

export type Warn = (text: string) => void;

export interface ConnectOptions extends TlsFlagValues {
  coordinators?: string;
  /** Deprecated spelling of `coordinators`. */
  endpoints?: string;
  wait?: string;
  /** Deprecated spelling of `wait`. */
  timeoutMs?: string;
  tokenFile?: string;
}

/** The note printed (on stderr) when an old spelling is used. */
export function deprecationNote(old: string, use: string): string {
  return `testudo: ${old} is deprecated; use ${use} (the old spelling still works for now)\n`;
}

/** Adds --coordinators, --wait, the TLS flags, --token-file and the hidden old spellings. */
export function withConnectOptions(cmd: Command): Command {
  return withTlsOptions(withTokenFile(cmd), 'this client')
    .option('--coordinators <list>', `coordinators to talk to, host:port,… (env TESTUDO_COORDINATORS; default ${defaultCoordinators})`)
    .option('--wait <ms>', `how long to keep trying to reach the cluster before giving up with exit 3 (default ${waitMsDefault})`)
    .addOption(new Option('--endpoints <list>', 'deprecated: --coordinators').hideHelp())
    .addOption(new Option('--timeout-ms <ms>', 'deprecated: --wait').hideHelp());
}

/** The coordinators to talk to; `localDefault` when nothing named them. Old spellings print a note through `warn`. */
export function coordinatorsOf(options: ConnectOptions, env: NodeJS.ProcessEnv, warn: Warn): { endpoints: string[]; localDefault: boolean } {
  if (options.coordinators !== undefined && options.endpoints !== undefined) throw new UsageError('give --coordinators only (--endpoints is its old spelling)');
  if (options.coordinators !== undefined) return { endpoints: endpointListFlag('--coordinators', options.coordinators), localDefault: false };
  if (options.endpoints !== undefined) {
    warn(deprecationNote(deprecatedSpellings.endpoints.old, deprecatedSpellings.endpoints.use));
    return { endpoints: endpointListFlag('--endpoints', options.endpoints), localDefault: false };
  }
  const fromEnv = nonEmpty(env.TESTUDO_COORDINATORS);
  if (fromEnv !== undefined) return { endpoints: endpointListFlag('TESTUDO_COORDINATORS', fromEnv), localDefault: false };
  const oldEnv = nonEmpty(env.TESTUDO_ENDPOINTS);
  if (oldEnv !== undefined) {
    warn(deprecationNote(deprecatedSpellings.envEndpoints.old, deprecatedSpellings.envEndpoints.use));
    return { endpoints: endpointListFlag('TESTUDO_ENDPOINTS', oldEnv), localDefault: false };
  }
  return { endpoints: endpointListFlag('the default coordinators', defaultCoordinators), localDefault: true };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** `--wait` (or its old spelling `--timeout-ms`), else the default. */
export function waitOf(options: ConnectOptions, warn: Warn): number {
  if (options.wait !== undefined && options.timeoutMs !== undefined) throw new UsageError('give --wait only (--timeout-ms is its old spelling)');
  if (options.wait !== undefined) return integerFlag('--wait', options.wait, 1, waitMsMax);
  if (options.timeoutMs !== undefined) {
    warn(deprecationNote(deprecatedSpellings.timeoutMs.old, deprecatedSpellings.timeoutMs.use));
    return integerFlag('--timeout-ms', options.timeoutMs, 1, waitMsMax);
  }
  return waitMsDefault;
}

/** Everything a command needs to open clients to the cluster, read from its flags once. */
export interface Connection {
  readonly target: ClusterTarget;
  /** TLS credentials and token, for TestudoClient options. */
  readonly clientOptions: Pick<TestudoClientOptions, 'credentials' | 'token'>;
}

export function connectionOf(options: ConnectOptions, warn: Warn, env: NodeJS.ProcessEnv = process.env): Connection {
  const { endpoints, localDefault } = coordinatorsOf(options, env, warn);
  const waitMs = waitOf(options, warn);
  const tls = tlsFilesOf(options, env) !== null;
  return { target: { endpoints, localDefault, waitMs, tls }, clientOptions: { ...clientTlsOf(options, env), ...tokenOptions(options.tokenFile, env) } };
}

/**
 * TestudoClient options for `connection`. Each operation keeps trying for
 * `--wait` (or `operationMs` when the operation itself takes longer, e.g. a
 * member catching up), bounded by that deadline rather than a count of tries.
 */
export function clientOptionsFor(connection: Connection, operationMs = 0): TestudoClientOptions {
  const totalTimeoutMs = Math.max(connection.target.waitMs, operationMs);
  return {
    endpoints: [...connection.target.endpoints],
    totalTimeoutMs,
    callTimeoutMs: Math.min(totalTimeoutMs, operationMs > 0 ? operationMs : callTimeoutMsMax),
    retry: { attemptsMax: retryAttemptsMaxLimit },
    ...connection.clientOptions,
  };
}

export type ClientFactory<C> = (options: TestudoClientOptions) => C;

/** The real client (tests pass a fake factory instead). */
export const realClient: ClientFactory<TestudoClient> = (options) => new TestudoClient(options);

/**
 * Runs `fn` with a client of `connection`, closed afterwards. A cluster that
 * does not answer becomes ClusterUnreachableError (exit 3, naming the
 * addresses tried); every other error goes up as it is.
 */
export async function withCluster<C extends { close(): void }, T>(
  connection: Connection,
  create: ClientFactory<C>,
  fn: (client: C) => Promise<T>,
  operationMs = 0,
): Promise<T> {
  const client = create(clientOptionsFor(connection, operationMs));
  try {
    return await fn(client);
  } catch (error) {
    if (error instanceof ExitError || error instanceof UsageError) throw error;
    if (isUnreachable(error)) throw new ClusterUnreachableError(connection.target, error);
    throw error;
  } finally {
    client.close();
  }
}

/**
 * For an operation that may take far longer than --wait (a member catching
 * up, a snapshot streaming) and must not be retried blindly: the cluster is
 * first reached within --wait (a status read, which every role may do), then
 * the operation gets `operationMs`.
 */
export async function withReachedCluster<T>(connection: Connection, fn: (client: TestudoClient) => Promise<T>, operationMs: number, create: ClientFactory<TestudoClient> = realClient): Promise<T> {
  await withCluster(connection, create, (c) => c.clusterStatus());
  return withCluster(connection, create, fn, operationMs);
}
