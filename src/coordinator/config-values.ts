import { resolve as resolvePath } from 'node:path';
import { isIPv4, isIPv6 } from 'node:net';
import { AddressRoutes } from '../client/routes.js';
import { ConfigError, baseDir, describe, type ConfigField, type Raw } from './config-sources.js';
import type { ReadMode } from '../raft/index.js';
import { LOG_LEVELS, isLogLevel, type LogLevel } from './logger.js';

// Readers of one coordinator setting each (src/coordinator/config.ts merges
// them): a raw value from a flag, the environment or the config file in, the
// checked value out, or a ConfigError naming the source and what was expected.

export interface HostPort {
  /** A hostname, an IPv4 address or an IPv6 address without brackets. */
  readonly host: string;
  readonly port: number;
}

/** Parses "host:port" or "[ipv6]:port"; throws a plain Error describing the problem. */
export function parseHostPort(text: string, options: { portZeroOk?: boolean } = {}): HostPort {
  const problem = hostPortProblem(text, options.portZeroOk ?? false);
  if (typeof problem === 'string') throw new Error(problem);
  return problem;
}

/** "host:port", with IPv6 hosts in brackets. */
export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

export function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || (isIPv6(host) && /^[0:]+$/.test(host));
}

export function parseAddress(raw: Raw, field: ConfigField, portZeroOk: boolean): HostPort {
  if (typeof raw.value !== 'string') throw invalid(raw, field, 'host:port', raw.value);
  const problem = hostPortProblem(raw.value.trim(), portZeroOk);
  if (typeof problem === 'string') throw invalid(raw, field, 'host:port', raw.value, problem);
  return problem;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The parsed address, or a sentence saying what is wrong with it. */
export function hostPortProblem(text: string, portZeroOk: boolean): HostPort | string {
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? '';
    if (!isIPv6(host)) return `${JSON.stringify(host)} in brackets is not an IPv6 address`;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return 'no port (expected host:port)';
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return 'an IPv6 address needs brackets: [::1]:7001';
    if (host === '') return 'no host (expected host:port)';
    if (!isIPv4(host) && !HOSTNAME.test(host)) return `${JSON.stringify(host)} is not a hostname or IP address`;
  }
  const minPort = portZeroOk ? 0 : 1;
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < minPort || Number(portText) > 65535) {
    return `port ${JSON.stringify(portText)} is not an integer in ${minPort}..65535`;
  }
  return { host: host.toLowerCase(), port: Number(portText) };
}

/** A comma-separated string or a list of strings; empty items are errors, not skipped. */
export function listItems(raw: Raw, field: ConfigField, expected: string): string[] {
  const value = raw.value;
  const items = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? (value as unknown[]) : undefined;
  if (items === undefined) throw invalid(raw, field, expected, value);
  return items.map((item) => {
    if (typeof item !== 'string' || item.trim() === '') throw invalid(raw, field, `${expected} with no empty entries`, value);
    return item.trim();
  });
}

export function parseInteger(raw: Raw, field: ConfigField, limits: { min: number; max: number }): number {
  const expected = `an integer in ${limits.min}..${limits.max}`;
  const value = typeof raw.value === 'string' && /^\s*-?\d+\s*$/.test(raw.value) ? Number(raw.value) : raw.value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < limits.min || value > limits.max) {
    throw invalid(raw, field, expected, raw.value);
  }
  return value;
}

const BYTE_UNITS: Readonly<Record<string, number>> = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** An integer number of bytes, or one with a binary unit: 16MiB, 512KiB. */
export function parseBytes(raw: Raw, field: ConfigField, limits: { min: number; max: number }): number {
  const expected = `bytes in ${limits.min}..${limits.max} (an integer, or with KiB, MiB or GiB)`;
  let value: unknown = raw.value;
  if (typeof value === 'string') {
    const match = /^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$/.exec(value);
    const unit = BYTE_UNITS[match?.[2] ?? ''];
    value = match === null || unit === undefined ? undefined : Number(match[1]) * unit;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < limits.min || value > limits.max) {
    throw invalid(raw, field, expected, raw.value);
  }
  return value;
}

const BOOLEAN_WORDS: ReadonlyMap<string, boolean> = new Map([['true', true], ['false', false], ['1', true], ['0', false], ['yes', true], ['no', false], ['on', true], ['off', false]]);

/** A YAML boolean, a flag given without a value, or true/false, 1/0, yes/no, on/off (any case). */
export function parseBoolean(raw: Raw, field: ConfigField): boolean {
  if (typeof raw.value === 'boolean') return raw.value;
  const value = typeof raw.value === 'string' ? BOOLEAN_WORDS.get(raw.value.trim().toLowerCase()) : undefined;
  if (value === undefined) throw invalid(raw, field, 'true or false', raw.value);
  return value;
}

export function parseHttp(raw: Raw): HostPort | null {
  if (raw.value === false || raw.value === 'off') return null;
  return parseAddress(raw, 'http', true);
}

export function parseClusterId(raw: Raw): string {
  const value = typeof raw.value === 'string' ? raw.value.trim() : raw.value;
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(value)) {
    throw invalid(raw, 'clusterId', '1-64 letters, digits, ".", "_" or "-"', raw.value);
  }
  return value;
}

export function parseLogLevelValue(raw: Raw): LogLevel {
  const value = typeof raw.value === 'string' ? raw.value.trim() : '';
  if (!isLogLevel(value)) throw invalid(raw, 'logLevel', `one of ${LOG_LEVELS.join(', ')}`, raw.value);
  return value;
}

/** How the Raft leader confirms linearizable reads (RaftConfig.readMode). */
export function parseReadMode(raw: Raw): ReadMode {
  const value = typeof raw.value === 'string' ? raw.value.trim() : '';
  if (value !== 'safe' && value !== 'lease') throw invalid(raw, 'readMode', 'safe or lease', raw.value);
  return value;
}

export function parseDataDir(raw: Raw, configPath: string | undefined): string {
  if (typeof raw.value !== 'string' || raw.value.trim() === '') throw invalid(raw, 'dataDir', 'a data directory path', raw.value);
  return resolvePath(baseDir(raw.origin, configPath), raw.value.trim());
}

/** A file path setting (relative to the config file when set there), or null when unset. */
export function optionalPath(raw: Raw | undefined, field: 'authFile' | 'tokenFile', configPath: string | undefined): string | null {
  if (raw === undefined) return null;
  if (typeof raw.value !== 'string' || raw.value.trim() === '') throw invalid(raw, field, 'a file path', raw.value);
  return resolvePath(baseDir(raw.origin, configPath), raw.value.trim());
}

export function parseWebhookUrl(raw: Raw): string {
  const text = typeof raw.value === 'string' ? raw.value.trim() : '';
  let url: URL | null = null;
  try {
    url = new URL(text);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new ConfigError({ source: describe(raw.origin), field: 'alertWebhookUrl', expected: 'an http(s) URL', got: raw.value });
  }
  return url.toString();
}

export function parseRoute(raw: Raw): AddressRoutes {
  try {
    if (typeof raw.value === 'string') return AddressRoutes.parse(raw.value);
    if (raw.value !== null && typeof raw.value === 'object' && !Array.isArray(raw.value)) return AddressRoutes.from(raw.value as Record<string, string>);
  } catch (error) {
    throw new ConfigError({ source: describe(raw.origin), field: 'route', expected: 'from=via,… with host:port on both sides', problem: (error as Error).message });
  }
  throw new ConfigError({ source: describe(raw.origin), field: 'route', expected: 'from=via,… (or a YAML map) with host:port on both sides', got: raw.value });
}

export function invalid(raw: Raw, field: string, expected: string, got?: unknown, problem?: string): ConfigError {
  const details: { source: string; field: string; expected: string; problem?: string; got?: unknown } = {
    source: describe(raw.origin),
    field,
    expected,
  };
  if (problem !== undefined) details.problem = `expected ${expected}: ${problem}`;
  if (got !== undefined) details.got = got;
  return new ConfigError(details);
}
