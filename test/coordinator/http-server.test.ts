import { afterEach, describe, expect, it } from 'vitest';
import { HttpListenError, raftReadiness, startHttpServer } from '../../src/coordinator/http-server.js';
import type { HealthCheck, HttpServer, ReadinessCheck } from '../../src/coordinator/http-server.js';
import { LogConfigError, childLogger, createLogger } from '../../src/coordinator/logger.js';
import { NodeMetrics } from '../../src/coordinator/metrics.js';

/** NDJSON lines a logger wrote, parsed. */
function captureLogger(level = 'debug'): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = { write: (chunk: string): void => void lines.push(JSON.parse(chunk) as Record<string, unknown>) };
  return { logger: createLogger({ nodeId: 'n1', component: 'http', level, destination, env: {} }), lines };
}

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

interface Probes {
  live: HealthCheck;
  ready: ReadinessCheck;
}

async function start(options: { status?: () => unknown } = {}): Promise<{ base: string; probes: Probes; metrics: NodeMetrics; lines: Record<string, unknown>[] }> {
  const probes: Probes = { live: { ok: true }, ready: { ok: true, reason: '' } };
  const metrics = new NodeMetrics({ nodeId: 'n1', defaultMetrics: false });
  const { logger, lines } = captureLogger();
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, metrics, livez: () => probes.live, readyz: () => probes.ready, logger, ...options });
  servers.push(server);
  expect(server.address.host).toBe('127.0.0.1');
  expect(server.address.port).toBeGreaterThan(0);
  return { base: `http://127.0.0.1:${server.address.port}`, probes, metrics, lines };
}

describe('startHttpServer', () => {
  it('serves Prometheus text from the node registry', async () => {
    const { base, metrics } = await start();
    metrics.setRaftState({ term: 4, commitIndex: 1, appliedIndex: 1, leaderId: 'n1' });
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(metrics.contentType);
    const body = await response.text();
    expect(body).toContain('# TYPE testudo_raft_has_leader gauge');
    expect(body).toContain('testudo_raft_term{node="n1"} 4');
  });

  it('answers /livez with ok, or 503 with the detail', async () => {
    const { base, probes } = await start();
    let response = await fetch(`${base}/livez`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok');
    probes.live = { ok: false, detail: 'apply loop stalled for 30 s' };
    response = await fetch(`${base}/livez`);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('apply loop stalled for 30 s');
  });

  it('answers /readyz with ok, or 503 with the reason', async () => {
    const { base, probes } = await start();
    let response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok');

    probes.ready = raftReadiness({ leaderId: '', commitIndex: 0, appliedIndex: 0 }, 100);
    response = await fetch(`${base}/readyz`);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('no leader known');

    probes.ready = raftReadiness({ leaderId: 'n2', commitIndex: 500, appliedIndex: 10 }, 100);
    response = await fetch(`${base}/readyz?verbose`);
    expect(response.status).toBe(503);
    expect(await response.text()).toBe('applied index 10 trails commit 500');

    expect(raftReadiness({ leaderId: 'n2', commitIndex: 500, appliedIndex: 400 }, 100)).toEqual({ ok: true, reason: '' });
  });

  it('serves /status as JSON when given, else 404', async () => {
    const { base } = await start({ status: () => ({ id: 'n1', peers: new Map([['n2', 'up']]), term: 7n }) });
    const response = await fetch(`${base}/status`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({ id: 'n1', peers: { n2: 'up' }, term: '7' });

    const without = await start();
    expect((await fetch(`${without.base}/status`)).status).toBe(404);
  });

  it('answers HEAD like GET without a body', async () => {
    const { base, probes } = await start();
    probes.ready = { ok: false, reason: 'no leader known' };
    const response = await fetch(`${base}/readyz`, { method: 'HEAD' });
    expect(response.status).toBe(503);
    expect(response.headers.get('content-length')).toBe(String('no leader known'.length));
    expect(await response.text()).toBe('');
    expect((await fetch(`${base}/metrics`, { method: 'HEAD' })).status).toBe(200);
  });

  it('answers 404 for unknown paths and 405 for other methods', async () => {
    const { base } = await start();
    for (const path of ['/', '/metric', '/metrics/', '/livez/x']) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const response = await fetch(`${base}/metrics`, { method, body: method === 'DELETE' ? null : 'x' });
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
    }
    expect((await fetch(`${base}/nope`, { method: 'POST', body: 'x' })).status).toBe(404);
  });

  it('turns a failing check into a 500 and logs it', async () => {
    const { base, lines } = await start({
      status: () => {
        throw new Error('state machine closed');
      },
    });
    const response = await fetch(`${base}/status`);
    expect(response.status).toBe(500);
    expect(await response.text()).toContain('state machine closed');
    expect(lines.some((line) => line['msg'] === 'http handler failed' && line['level'] === 50)).toBe(true);
    // The server keeps answering.
    expect((await fetch(`${base}/livez`)).status).toBe(200);
  });

  it('names the address when the port is taken', async () => {
    const { base } = await start();
    const port = Number(new URL(base).port);
    const { logger } = captureLogger();
    const metrics = new NodeMetrics({ nodeId: 'n2', defaultMetrics: false });
    const attempt = startHttpServer({ host: '127.0.0.1', port, metrics, livez: () => ({ ok: true }), readyz: () => ({ ok: true, reason: '' }), logger });
    await expect(attempt).rejects.toThrow(HttpListenError);
    await expect(attempt).rejects.toThrow(`cannot listen for HTTP on 127.0.0.1:${port}: address already in use`);
    await expect(attempt).rejects.toMatchObject({ code: 'EADDRINUSE', host: '127.0.0.1', port });
  });

  it('closes with keep-alive connections open, and twice', async () => {
    const probes = { live: { ok: true }, ready: { ok: true, reason: '' } };
    const { logger } = captureLogger();
    const server = await startHttpServer({
      host: '127.0.0.1',
      port: 0,
      metrics: new NodeMetrics({ nodeId: 'n1', defaultMetrics: false }),
      livez: () => probes.live,
      readyz: () => probes.ready,
      logger,
    });
    expect((await fetch(`http://127.0.0.1:${server.address.port}/livez`)).status).toBe(200);
    await server.close();
    await server.close();
    await expect(fetch(`http://127.0.0.1:${server.address.port}/livez`)).rejects.toThrow();
  });
});

describe('createLogger', () => {
  it('writes NDJSON with nodeId and component, and child loggers add theirs', () => {
    const { logger, lines } = captureLogger('info');
    logger.info({ term: 3 }, 'became leader');
    logger.debug('hidden at info');
    childLogger(logger, 'raft').warn('slow fsync');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 30, nodeId: 'n1', component: 'http', term: 3, msg: 'became leader' });
    expect(typeof lines[0]?.['time']).toBe('string');
    expect(lines[1]).toMatchObject({ level: 40, nodeId: 'n1', component: 'raft', msg: 'slow fsync' });
  });

  it('takes its level from LOG_LEVEL and refuses an unknown one', () => {
    const destination = { write: (): void => undefined };
    expect(createLogger({ nodeId: 'n1', destination, env: {} }).level).toBe('info');
    expect(createLogger({ nodeId: 'n1', destination, env: { LOG_LEVEL: 'debug' } }).level).toBe('debug');
    expect(createLogger({ nodeId: 'n1', destination, level: 'warn', env: { LOG_LEVEL: 'debug' } }).level).toBe('warn');
    expect(() => createLogger({ nodeId: 'n1', destination, env: { LOG_LEVEL: 'verbose' } })).toThrow(LogConfigError);
    expect(() => createLogger({ nodeId: 'n1', destination, env: { LOG_LEVEL: 'verbose' } })).toThrow(
      'env LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"',
    );
    expect(() => createLogger({ nodeId: 'n1', destination, env: { LOG_FORMAT: 'yaml' } })).toThrow(/env LOG_FORMAT/);
  });
});
