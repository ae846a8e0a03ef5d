import { InvalidArgumentError } from './errors.js';

/** Bounds the configured list; a cluster has three or five members. */
export const endpointsMax = 64;

// host:port, where host is a name, an IPv4 address or a bracketed IPv6 address.
const ENDPOINT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/** Why `endpoint` is not a usable host:port, or '' when it is. */
export function endpointProblem(endpoint: unknown): string {
  if (typeof endpoint !== 'string') return `endpoint must be a string "host:port", got ${typeof endpoint}`;
  const match = ENDPOINT.exec(endpoint);
  if (match === null) return `endpoint "${endpoint}" is not "host:port" (e.g. "127.0.0.1:7001" or "[::1]:7001")`;
  const port = Number(match[1]);
  if (port < 1 || port > 65535) return `endpoint "${endpoint}" has port ${port}, outside 1..65535`;
  return '';
}

export function isEndpoint(endpoint: unknown): endpoint is string {
  return endpointProblem(endpoint) === '';
}

export function requireEndpoint(endpoint: unknown): string {
  const problem = endpointProblem(endpoint);
  if (problem !== '') throw new InvalidArgumentError(problem, { code: 'invalid', retryable: false });
  return endpoint as string;
}

/** Validated, duplicates dropped, order kept (the first is tried first). */
export function requireEndpoints(endpoints: unknown): string[] {
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    throw new InvalidArgumentError('endpoints must be a non-empty array of "host:port" strings', {
      code: 'invalid',
      retryable: false,
    });
  }
  if (endpoints.length > endpointsMax) {
    throw new InvalidArgumentError(`at most ${endpointsMax} endpoints, got ${endpoints.length}`, {
      code: 'invalid',
      retryable: false,
    });
  }
  return [...new Set(endpoints.map(requireEndpoint))];
}
