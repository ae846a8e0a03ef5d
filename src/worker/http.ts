import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';

import { chaosRequest, type ChaosControl } from '../common/chaos-endpoint.js';
import type { WorkerAgent } from './agent.js';
import type { WorkerChaosSettings } from './chaos-hooks.js';
import { attemptLogPath } from './executor.js';
import { workerMetricsRegistry } from './metrics.js';
import type { TlsContextSource } from '../security/tls.js';
import { authorizeHttp, type Authenticator, type AuditSink, type RefusalReason } from '../security/auth.js';
import { workerHttpRouteRules, workerRouteOf } from '../security/roles.js';

/**
 * The worker's HTTP endpoints: /livez, /status (JSON), /metrics
 * (Prometheus) and /logs/<attemptId> (an attempt's full output log, which
 * results only carry the tail of); with --chaos-hooks also /chaos.
 */
export interface WorkerHttp {
  readonly address: string;
  close(): Promise<void>;
}

const attemptIdPattern = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/**
 * Who may call the worker's HTTP port: with `auth` (the worker's
 * `--auth-file`), every route but /livez needs a token of the role
 * `workerHttpRouteRules` names (src/security/roles.ts); without it the port
 * is open, as a loopback-only `testudo up` wants.
 */
export interface WorkerHttpAccess {
  readonly auth: Authenticator | null;
  /** Writes the audit line of a change of the chaos settings. */
  readonly audit?: AuditSink;
  onRefused?(route: string, reason: RefusalReason): void;
}

/**
 * `chaos` is the worker's chaos hooks (`--chaos-hooks`), served at /chaos
 * (GET, PUT, DELETE); null answers /chaos with 404. With `tls` it serves
 * HTTPS, switching material on each reload (a client certificate is asked
 * for, not required).
 */
export async function startWorkerHttp(
  host: string,
  port: number,
  workDir: string,
  agent: () => WorkerAgent | null,
  chaos: ChaosControl<WorkerChaosSettings> | null = null,
  tls: TlsContextSource | null = null,
  access: WorkerHttpAccess = { auth: null },
): Promise<WorkerHttp> {
  const registry = workerMetricsRegistry(agent);

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://worker');
      const refusal = authorizeHttp(access.auth, req, workerRouteOf(url.pathname), access.audit, access.onRefused, workerHttpRouteRules);
      if (refusal !== null) {
        res.writeHead(refusal.status, { 'content-type': 'text/plain', ...refusal.headers }).end(req.method === 'HEAD' ? undefined : refusal.body);
        return;
      }
      if (url.pathname === '/chaos') {
        const reply = await chaosRequest(req, chaos, 'worker');
        res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers }).end(req.method === 'HEAD' ? undefined : reply.body);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (url.pathname === '/livez') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      if (url.pathname === '/status') {
        const a = agent();
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(a === null ? { starting: true } : { workerId: a.workerId, ...a.stats() }));
        return;
      }
      if (url.pathname === '/metrics') {
        const body = await registry.metrics();
        res.writeHead(200, { 'content-type': registry.contentType }).end(body);
        return;
      }
      const match = /^\/logs\/(.+)$/.exec(url.pathname);
      if (match !== null) {
        const attemptId = decodeURIComponent(match[1]!);
        if (!attemptIdPattern.test(attemptId)) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end('malformed attempt id\n');
          return;
        }
        const file = attemptLogPath(workDir, attemptId);
        try {
          const info = await stat(file);
          res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': info.size });
          if (req.method === 'HEAD') res.end();
          else createReadStream(file).pipe(res);
        } catch {
          res
            .writeHead(404, { 'content-type': 'text/plain' })
            .end(`no log for attempt ${attemptId} on this worker (never ran here, or removed: finished attempts' files are kept up to --attempt-dirs-max of them, for --attempt-retention-ms)\n`);
        }
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  };
  const server: Server = tls === null ? createServer(handler) : createHttpsServer({ ...tls.secureContextOptions(), requestCert: true, rejectUnauthorized: false }, handler);
  const stopReloads = tls === null ? () => undefined : tls.onReload(() => (server as ReturnType<typeof createHttpsServer>).setSecureContext(tls.secureContextOptions()));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = 64;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => {
      stopReloads();
      reject(error);
    });
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  // Bound to every interface: advertise the host name, which others can dial.
  const advertised = address.address === '0.0.0.0' || address.address === '::' ? hostname() : address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    address: `${advertised}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        stopReloads();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
