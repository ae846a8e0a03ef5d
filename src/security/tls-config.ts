import { resolve as resolvePath } from 'node:path';

import { ConfigError, baseDir, describe, envName, flagName, type Raw, type Sources } from '../coordinator/config-sources.js';
import type { TlsFiles } from './tls.js';

/**
 * The TLS settings of a coordinator, from its layered configuration (flags,
 * TESTUDO_* environment, YAML file): tlsCert, tlsKey and tlsCa are all set,
 * or none is. The files are only named here; ReloadableTls reads them.
 */

export interface CoordinatorTls {
  readonly files: TlsFiles & { readonly certFile: string; readonly keyFile: string };
  /** Require client certificates that chain to the CA bundle (mutual TLS) on the gRPC port. */
  readonly clientAuth: boolean;
}

const TLS_FILE_FIELDS = ['tlsCert', 'tlsKey', 'tlsCa'] as const;

/** The three file paths, resolved (against the config file's directory for values from the file), or null when TLS is off. */
export function resolveTlsFiles(sources: Sources, configPath: string | undefined): CoordinatorTls['files'] | null {
  const raw = TLS_FILE_FIELDS.map((field) => [field, sources.get(field)] as const);
  const set = raw.filter(([, r]) => r !== undefined);
  if (set.length === 0) return null;
  const unset = raw.filter(([, r]) => r === undefined).map(([field]) => field);
  if (unset.length > 0) {
    throw new ConfigError({
      source: set.map(([, r]) => describe(r!.origin)).join(' and '),
      field: unset.join('/'),
      expected: 'tlsCert, tlsKey and tlsCa together',
      problem: `TLS needs a certificate, its key and a CA bundle: set ${unset.map((f) => `${flagName(f)} (${envName(f)})`).join(' and ')} too, or unset ${set.map(([f]) => flagName(f)).join(' and ')}`,
    });
  }
  const path = (field: (typeof TLS_FILE_FIELDS)[number]): string => parsePath(raw.find(([f]) => f === field)![1]!, field, configPath);
  return { certFile: path('tlsCert'), keyFile: path('tlsKey'), caFile: path('tlsCa') };
}

function parsePath(raw: Raw, field: string, configPath: string | undefined): string {
  if (typeof raw.value !== 'string' || raw.value.trim() === '') {
    throw new ConfigError({ source: describe(raw.origin), field, expected: 'a PEM file path', got: raw.value });
  }
  return resolvePath(baseDir(raw.origin, configPath), raw.value.trim());
}

/** tlsClientAuth without TLS would silently do nothing. */
export function checkClientAuthNeedsTls(clientAuth: boolean, tls: boolean, sources: Sources): void {
  if (clientAuth && !tls) {
    throw new ConfigError({
      source: sources.describe('tlsClientAuth'),
      field: 'tlsClientAuth',
      expected: 'tlsClientAuth only with tlsCert, tlsKey and tlsCa',
      problem: `${flagName('tlsClientAuth')} requires client certificates, which needs TLS: set ${flagName('tlsCert')}, ${flagName('tlsKey')} and ${flagName('tlsCa')}`,
    });
  }
}
