import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chaosRequest, type ChaosControl } from '../common/chaos-endpoint.js';
import type { CoordinatorChaosSettings } from './chaos-hooks.js';
import type { Logger } from './logger.js';
import type { NodeMetrics } from './metrics.js';
import type { TlsContextSource } from '../security/tls.js';

/** Time a client gets to send its request headers. */
export const HTTP_HEADERS_TIMEOUT_MS = 10_000;
/** Time a client gets to send a whole request. */
export const HTTP_REQUEST_TIMEOUT_MS = 30_000;
/** Idle time before a keep-alive connection is closed. */
export const HTTP_KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** Most bytes of request headers; these endpoints need almost none. */
export const HTTP_HEADER_BYTES_MAX = 16 * 1024;
/** Most open connections; scrapers and probes need a handful. */
export const HTTP_CONNECTIONS_MAX = 64;

export interface HealthCheck {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface ReadinessCheck {
  readonly ok: boolean;
  /** Why the node is not ready, e.g. "no leader known"; ignored when ok. */
  readonly reason: string;
}

export interface HttpServerOptions {
  /** Address to bind; tests use 127.0.0.1. */
  readonly host: string;
  /** Port to bind; 0 picks a free one (see the returned address). */
  readonly port: number;
  readonly metrics: NodeMetrics;
  /**
   * Local liveness only: that the process runs and its event loop answers
   * (which answering at all proves). It must not depend on other nodes, or a
   * partition would make an orchestrator restart healthy nodes (etcd /livez).
   */
  readonly livez: () => HealthCheck;
  /** Whether this node should receive traffic: may require a known leader and a caught-up apply loop. */
  readonly readyz: () => ReadinessCheck;
  /** A JSON-serialisable view for /status; without it /status is 404. */
  readonly status?: () => unknown;
  /** The chaos hooks (`--chaos-hooks`), served at /chaos with GET, PUT and DELETE; without them /chaos is 404. */
  readonly chaos?: ChaosControl<CoordinatorChaosSettings> | null;
  /**
   * Serve HTTPS with this material, switching on each reload. A client
   * certificate is asked for but not required, so that probes which cannot
   * present one (/livez, /readyz) still work. Default: plain HTTP.
   */
  readonly tls?: TlsContextSource | null;
  /** Tried first on every request (src/dashboard/server.ts); its event streams have their own cap beside HTTP_CONNECTIONS_MAX. */
  readonly dashboard?: HttpSubHandler | null;
  readonly logger: Logger;
  /** Checks each request's credential before routing it (src/security/auth.ts); null lets it on, else the refusal is the answer. */
  readonly authorize?: (request: IncomingMessage, path: string) => { status: number; body: string; headers: Readonly<Record<string, string>> } | null;
}

/** A handler that takes the requests it knows (returns true) and leaves the rest (false). */
export interface HttpSubHandler {
  readonly handle: (request: IncomingMessage, response: ServerResponse) => boolean;
  /** The most long-lived streams it keeps open (it refuses more itself); the server makes room for them beside HTTP_CONNECTIONS_MAX. */
  readonly streamsMax: number;
}

export interface HttpServer {
  /** The bound address (the real port when 0 was asked for). */
  readonly address: { readonly host: string; readonly port: number };
  /** Stops accepting, drops open connections and resolves when the socket is closed. Idempotent. */
  close(): Promise<void>;
}

/** The HTTP server could not bind its address. */
export class HttpListenError extends Error {
  override readonly name = 'HttpListenError';
  readonly host: string;
  readonly port: number;
  /** The system error code, e.g. EADDRINUSE, EACCES, EADDRNOTAVAIL. */
  readonly code: string;

  constructor(host: string, port: number, code: string, cause: unknown) {
    const why = code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : code;
    super(`cannot listen for HTTP on ${formatAddress(host, port)}: ${why}`, { cause });
    this.host = host;
    this.port = port;
    this.code = code;
  }
}

type Route = (request: IncomingMessage) => Promise<Reply> | Reply;

interface Reply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * Serves /metrics, /livez, /readyz and /status over plain HTTP/1.1.
 * GET and HEAD only (405 otherwise, with an Allow header); unknown paths 404;
 * query strings are ignored. /chaos (chaos hooks) also takes PUT and DELETE.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const logger = options.logger;
  const routes = new Map<string, Route>([
    ['/metrics', async () => ({ status: 200, contentType: options.metrics.contentType, body: await options.metrics.metricsText() })],
    ['/livez', () => healthReply(options.livez(), 'not live')],
    ['/readyz', () => readinessReply(options.readyz())],
  ]);
  const status = options.status;
  if (status !== undefined) routes.set('/status', () => ({ status: 200, contentType: JSON_TYPE, body: `${toJson(status())}\n` }));

  const serverOptions = { maxHeaderSize: HTTP_HEADER_BYTES_MAX, headersTimeout: HTTP_HEADERS_TIMEOUT_MS, requestTimeout: HTTP_REQUEST_TIMEOUT_MS };
  const tls = options.tls ?? null;
  const handler = (request: IncomingMessage, response: ServerResponse): void => {
    if (options.dashboard?.handle(request, response) === true) return;
    const startedAt = performance.now();
    respond(routes, request, logger, options.chaos ?? null, options.authorize)
      .then((reply) => {
        send(request, response, reply);
        logger.debug({ method: request.method, url: request.url, status: reply.status, durationMs: performance.now() - startedAt }, 'http request');
      })
      .catch((error: unknown) => {
        logger.warn({ err: error, url: request.url }, 'http response failed');
        response.destroy();
      });
  };
  const server: Server =
    tls === null ? createServer(serverOptions, handler) : createHttpsServer({ ...serverOptions, ...tls.secureContextOptions(), requestCert: true, rejectUnauthorized: false }, handler);
  const stopReloads = tls === null ? () => undefined : tls.onReload(() => (server as ReturnType<typeof createHttpsServer>).setSecureContext(tls.secureContextOptions()));
  server.keepAliveTimeout = HTTP_KEEP_ALIVE_TIMEOUT_MS;
  // Streams have their own cap (the handler answers 503 beyond it): room for them comes on top of the connections probes and scrapers need.
  server.maxConnections = HTTP_CONNECTIONS_MAX + (options.dashboard?.streamsMax ?? 0);
  server.on('clientError', (error, socket) => {
    logger.debug({ err: error }, 'http client error');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });

  await listen(server, options.host, options.port).catch((error: unknown) => {
    stopReloads();
    throw error;
  });
  server.on('error', (error) => logger.error({ err: error }, 'http server error'));
  const bound = server.address() as AddressInfo;
  const address = { host: bound.address, port: bound.port };
  logger.info({ address: formatAddress(address.host, address.port), scheme: tls === null ? 'http' : 'https' }, 'http server listening');

  let closing: Promise<void> | undefined;
  return {
    address,
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        stopReloads();
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/**
 * The usual readiness rule for a Raft node: it knows a leader and its apply
 * loop trails the commit index by at most `appliedLagMax` entries, so reads it
 * serves are not far behind.
 */
export function raftReadiness(state: { leaderId: string; commitIndex: number; appliedIndex: number }, appliedLagMax: number): ReadinessCheck {
  if (state.leaderId === '') return { ok: false, reason: 'no leader known' };
  if (state.commitIndex - state.appliedIndex > appliedLagMax) {
    return { ok: false, reason: `applied index ${state.appliedIndex} trails commit ${state.commitIndex}` };
  }
  return { ok: true, reason: '' };
}

async function respond(
  routes: ReadonlyMap<string, Route>,
  request: IncomingMessage,
  logger: Logger,
  chaos: ChaosControl<CoordinatorChaosSettings> | null,
  authorize: HttpServerOptions['authorize'],
): Promise<Reply> {
  let path: string;
  try {
    path = new URL(request.url ?? '/', 'http://localhost').pathname;
  } catch {
    return { status: 400, contentType: TEXT, body: 'bad request URL\n' };
  }
  const refused = authorize?.(request, path) ?? null;
  if (refused !== null) return { status: refused.status, contentType: TEXT, body: refused.body, headers: refused.headers };
  if (path === '/chaos') {
    const reply = await chaosRequest(request, chaos, 'coordinator');
    return { status: reply.status, contentType: JSON_TYPE, body: reply.body, headers: reply.headers };
  }
  const route = routes.get(path);
  if (route === undefined) return { status: 404, contentType: TEXT, body: 'not found\n' };
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return { status: 405, contentType: TEXT, body: 'method not allowed\n', headers: { Allow: 'GET, HEAD' } };
  }
  try {
    return await route(request);
  } catch (error) {
    // A failing check must answer, not hang the probe.
    logger.error({ err: error, path }, 'http handler failed');
    return { status: 500, contentType: TEXT, body: `internal error: ${error instanceof Error ? error.message : String(error)}\n` };
  }
}

function send(request: IncomingMessage, response: ServerResponse, reply: Reply): void {
  const body = Buffer.from(reply.body, 'utf8');
  response.writeHead(reply.status, {
    'Content-Type': reply.contentType,
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
    ...reply.headers,
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

function healthReply(check: HealthCheck, fallback: string): Reply {
  if (check.ok) return { status: 200, contentType: TEXT, body: 'ok' };
  return { status: 503, contentType: TEXT, body: check.detail ?? fallback };
}

function readinessReply(check: ReadinessCheck): Reply {
  if (check.ok) return { status: 200, contentType: TEXT, body: 'ok' };
  return { status: 503, contentType: TEXT, body: check.reason === '' ? 'not ready' : check.reason };
}

function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Map) return Object.fromEntries(v);
    if (v instanceof Set) return [...v];
    return v;
  });
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(new HttpListenError(host, port, error.code ?? 'UNKNOWN', error));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
