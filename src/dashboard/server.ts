import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DashboardHub, hubLimitsDefault, type HubLimits, type HubLogger } from './hub.js';
import { runDetail, runReport } from './run-detail.js';
import type { DashboardSources } from './sources.js';

/** The answer of an authorization check on a dashboard API request. */
export type DashboardAuthVerdict = { readonly ok: true } | { readonly ok: false; readonly status: 401 | 403; readonly message: string };

export interface DashboardOptions {
  readonly sources: DashboardSources;
  readonly log: HubLogger;
  readonly limits?: Partial<HubLimits>;
  /**
   * Checks a request to /api/dashboard/* (the data); the page's own files
   * (/, /dashboard/*) carry no data and are served to anyone so that the
   * page can ask for a token. Without it every request is allowed.
   */
  readonly authorize?: (request: IncomingMessage) => DashboardAuthVerdict;
  /** Where the page's files are; by default found next to this module or in the package's src/dashboard/static. */
  readonly staticDir?: string;
}

/** The dashboard a coordinator serves on its HTTP port. */
export interface Dashboard {
  /** Serves the request when it is the dashboard's (returns true), else leaves it alone (false). */
  readonly handle: (request: IncomingMessage, response: ServerResponse) => boolean;
  readonly hub: DashboardHub;
  /** Event streams open now, and the most allowed (HTTP 503 beyond). */
  streamsOpen(): number;
  readonly streamsMax: number;
  stop(): void;
}

/** The path prefix of the data endpoints (the ones an auth check guards). */
export const dashboardApiPrefix = '/api/dashboard/';

/** Whether `pathname` is a dashboard data endpoint, which needs a readonly (or client/admin) token when auth is on. */
export function dashboardPathNeedsAuth(pathname: string): boolean {
  return pathname.startsWith(dashboardApiPrefix);
}

/**
 * Headers on every dashboard answer. The CSP allows only this origin's
 * script, style and fetch: no inline script or style, no framing, no
 * plugins, no other hosts (no CDN).
 */
export const dashboardSecurityHeaders: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), usb=()',
};

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const staticNames: Readonly<Record<string, string>> = {
  '/': 'index.html',
  '/dashboard/app.js': 'app.js',
  '/dashboard/app.css': 'app.css',
  '/dashboard/icon.svg': 'icon.svg',
};

const contentTypes: Readonly<Record<string, string>> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

const runPath = /^\/api\/dashboard\/runs\/([A-Za-z0-9][A-Za-z0-9_.-]{0,127})(?:\/report\.(html|json|md))?$/;

/** Builds the dashboard: its hub (live state, streams) and the HTTP handler for `/`, `/dashboard/*` and `/api/dashboard/*`. */
export function createDashboard(options: DashboardOptions): Dashboard {
  const limits: HubLimits = { ...hubLimitsDefault, ...options.limits };
  const hub = new DashboardHub(options.sources, options.log, limits);
  const files = loadStatic(options.staticDir ?? findStaticDir());
  const handle = (request: IncomingMessage, response: ServerResponse): boolean => {
    let pathname: string;
    try {
      pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    } catch {
      return false;
    }
    const isStatic = Object.hasOwn(staticNames, pathname);
    if (!isStatic && !dashboardPathNeedsAuth(pathname)) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      reply(request, response, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
      return true;
    }
    if (isStatic) {
      serveStatic(request, response, files.get(staticNames[pathname]!));
      return true;
    }
    const verdict = options.authorize?.(request) ?? { ok: true };
    if (!verdict.ok) {
      reply(request, response, verdict.status, 'text/plain; charset=utf-8', `${verdict.message}\n`, verdict.status === 401 ? { 'WWW-Authenticate': 'Bearer realm="testudo"' } : {});
      return true;
    }
    serveApi(hub, options.sources, pathname, request, response).catch((error: unknown) => {
      options.log.warn({ err: error, path: pathname }, 'dashboard request failed');
      if (!response.headersSent) reply(request, response, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else response.destroy();
    });
    return true;
  };
  return { handle, hub, streamsOpen: () => hub.streamsOpen, streamsMax: limits.streamsMax, stop: () => hub.stop() };
}

async function serveApi(hub: DashboardHub, sources: DashboardSources, pathname: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (pathname === '/api/dashboard/snapshot') {
    reply(request, response, 200, 'application/json; charset=utf-8', await hub.snapshotJson());
    return;
  }
  if (pathname === '/api/dashboard/events') {
    const lastEventId = request.headers['last-event-id'];
    if (!hub.openStream(response, typeof lastEventId === 'string' ? lastEventId : undefined, dashboardSecurityHeaders)) {
      reply(request, response, 503, 'text/plain; charset=utf-8', `${hub.limits.streamsMax} dashboard streams are open here; poll /api/dashboard/snapshot or retry later\n`, { 'Retry-After': '5' });
    }
    return;
  }
  const match = runPath.exec(pathname);
  const run = match === null ? undefined : sources.getRun(match[1]!);
  if (match === null || run === undefined) {
    reply(request, response, 404, 'text/plain; charset=utf-8', match === null ? 'not found\n' : `no run ${match[1]!} on this coordinator (finished runs are pruned)\n`);
    return;
  }
  const format = match[2] as 'html' | 'json' | 'md' | undefined;
  if (format === undefined) {
    const http = new Map(sources.listWorkers().map((w) => [w.workerId, w.httpAddress]));
    reply(request, response, 200, 'application/json; charset=utf-8', JSON.stringify(runDetail(run, (id) => http.get(id) ?? '')));
    return;
  }
  // A download, never rendered in the dashboard's origin: the report is a page of its own.
  const type = format === 'html' ? 'text/html; charset=utf-8' : format === 'md' ? 'text/markdown; charset=utf-8' : 'application/json; charset=utf-8';
  reply(request, response, 200, type, runReport(run, format), { 'Content-Disposition': `attachment; filename="testudo-report-${run.runId}.${format}"` });
}

function reply(request: IncomingMessage, response: ServerResponse, status: number, type: string, body: string | Buffer, headers: Readonly<Record<string, string>> = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  response.writeHead(status, { ...dashboardSecurityHeaders, 'Content-Type': type, 'Content-Length': bytes.length, 'Cache-Control': 'no-store', ...headers });
  response.end(request.method === 'HEAD' ? undefined : bytes);
}

function serveStatic(request: IncomingMessage, response: ServerResponse, file: StaticFile | undefined): void {
  if (file === undefined) {
    reply(request, response, 503, 'text/plain; charset=utf-8', 'the dashboard page is not installed (src/dashboard/static is missing from this build)\n');
    return;
  }
  // Revalidate every time (cheap: an ETag match is a 304), so a new version is never served stale.
  const headers = { ...dashboardSecurityHeaders, 'Cache-Control': 'no-cache', ETag: file.etag };
  if (request.headers['if-none-match'] === file.etag) {
    response.writeHead(304, headers);
    response.end();
    return;
  }
  response.writeHead(200, { ...headers, 'Content-Type': file.type, 'Content-Length': file.body.length });
  response.end(request.method === 'HEAD' ? undefined : file.body);
}

/** The page's files: next to this module when run from src/, in the package's src/dashboard/static when run from dist/. */
export function findStaticDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, 'static'), join(here, '..', '..', '..', 'src', 'dashboard', 'static')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? candidates[0]!;
}

function loadStatic(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of Object.values(staticNames)) {
    let body: Buffer;
    try {
      body = readFileSync(join(dir, name));
    } catch {
      continue;
    }
    const ext = name.slice(name.lastIndexOf('.') + 1);
    files.set(name, { body, type: contentTypes[ext] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return files;
}
