// The TLS flags of the worker and client commands (the coordinator reads
// them through its layered configuration), with their TESTUDO_TLS_*
// environment fallbacks, and the safe-defaults check before a listen.

import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Command } from 'commander';

import { ReloadableTls, TlsMaterialError, type TlsFiles } from '../security/tls.js';
import { checkListenPolicy, type ListenPolicyInput } from '../security/tls-policy.js';
import { UsageError } from './errors.js';

export interface TlsFlagValues {
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
}

const TLS_FLAGS = [
  { key: 'tlsCert', flag: '--tls-cert', env: 'TESTUDO_TLS_CERT' },
  { key: 'tlsKey', flag: '--tls-key', env: 'TESTUDO_TLS_KEY' },
  { key: 'tlsCa', flag: '--tls-ca', env: 'TESTUDO_TLS_CA' },
] as const;

/** Adds --tls-ca, --tls-cert and --tls-key; `whose` says whose certificate it is in the help. */
export function withTlsOptions(cmd: Command, whose: string): Command {
  return cmd
    .option('--tls-ca <file>', 'PEM CA bundle the coordinators\' certificates chain to; turns TLS on (env TESTUDO_TLS_CA)')
    .option('--tls-cert <file>', `PEM certificate ${whose} presents, for mutual TLS (env TESTUDO_TLS_CERT)`)
    .option('--tls-key <file>', 'PEM private key of --tls-cert (env TESTUDO_TLS_KEY)');
}

/**
 * The TLS files named by flags, else TESTUDO_TLS_*; null when none is set.
 * TLS needs the CA bundle; a certificate and its key come together.
 */
export function tlsFilesOf(options: TlsFlagValues, env: NodeJS.ProcessEnv = process.env): TlsFiles | null {
  const values = TLS_FLAGS.map(({ key, flag, env: name }) => {
    const fromFlag = options[key];
    if (fromFlag !== undefined) return { flag, source: flag, value: fromFlag };
    const fromEnv = env[name];
    return { flag, source: name, value: fromEnv === undefined || fromEnv === '' ? undefined : fromEnv };
  });
  const [cert, key, ca] = values as [(typeof values)[number], (typeof values)[number], (typeof values)[number]];
  if (cert.value === undefined && key.value === undefined && ca.value === undefined) return null;
  for (const v of values) if (v.value !== undefined && v.value.trim() === '') throw new UsageError(`${v.source} must be a file path, got an empty value`);
  if (ca.value === undefined) {
    throw new UsageError(`${cert.value !== undefined ? cert.source : key.source} is set but not --tls-ca (TESTUDO_TLS_CA): TLS needs the CA bundle the coordinators' certificates chain to`);
  }
  if ((cert.value === undefined) !== (key.value === undefined)) {
    const given = cert.value !== undefined ? cert.source : key.source;
    throw new UsageError(`${given} is set without its pair: give both --tls-cert and --tls-key (TESTUDO_TLS_CERT, TESTUDO_TLS_KEY), or neither`);
  }
  return { caFile: ca.value, certFile: cert.value ?? null, keyFile: key.value ?? null };
}

/** Loads the files; a file that does not pass is a usage error (exit 2) naming it. */
export function loadTls(files: TlsFiles): ReloadableTls {
  try {
    return ReloadableTls.load(files);
  } catch (error) {
    if (error instanceof TlsMaterialError) throw new UsageError(`TLS: ${error.message}`);
    throw error;
  }
}

/** `{ credentials }` for TestudoClient options when TLS flags or variables are set, else `{}`. */
export function clientTlsOf(options: TlsFlagValues, env: NodeJS.ProcessEnv = process.env): { credentials?: ChannelCredentials } {
  const files = tlsFilesOf(options, env);
  return files === null ? {} : { credentials: loadTls(files).channelCredentials() };
}

/**
 * Refuses (usage error, exit 2) a listen that the safe defaults forbid;
 * writes the loud warning to stderr when --insecure lets one through.
 */
export function enforceListenPolicy(input: ListenPolicyInput, warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string | null {
  const verdict = checkListenPolicy(input);
  if (!verdict.ok) throw new UsageError(verdict.reason);
  if (verdict.warning !== null) warn(`WARNING: ${verdict.warning}`);
  return verdict.warning;
}
