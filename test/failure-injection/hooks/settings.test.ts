import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { ChaosSettingsError, chaosBodyBytesMax, chaosDefaults, parseChaosSettings } from '../../../src/common/chaos-endpoint.js';
import { CoordinatorChaosHooks, coordinatorChaosSchema, fsyncDelayMsMax } from '../../../src/coordinator/chaos-hooks.js';
import { ConfigError, envName, flagName, loadCoordinatorConfig } from '../../../src/coordinator/config.js';
import { startHttpServer } from '../../../src/coordinator/http-server.js';
import { createLogger } from '../../../src/coordinator/logger.js';
import { NodeMetrics } from '../../../src/coordinator/metrics.js';
import { WorkerChaosHooks, workerChaosSchema } from '../../../src/worker/chaos-hooks.js';
import { startWorkerHttp } from '../../../src/worker/http.js';

/** NDJSON lines a logger wrote, parsed. */
function captureLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = { write: (chunk: string): void => void lines.push(JSON.parse(chunk) as Record<string, unknown>) };
  return { logger: createLogger({ nodeId: 'hooks-test', level: 'info', destination, env: {} }), lines };
}

const workerDefaults = { spawnFailRate: 0, crashRate: 0, timeoutRate: 0, cpuShare: 1 };

describe('parseChaosSettings', () => {
  const worker = (body: unknown): unknown => parseChaosSettings(typeof body === 'string' ? body : JSON.stringify(body), workerChaosSchema);
  const coordinator = (text: string): unknown => parseChaosSettings(text, coordinatorChaosSchema);

  it('fills absent fields with the defaults', () => {
    expect(chaosDefaults(workerChaosSchema)).toEqual(workerDefaults);
    expect(worker({})).toEqual(workerDefaults);
    expect(worker({ crashRate: 0.25 })).toEqual({ ...workerDefaults, crashRate: 0.25 });
    expect(coordinator('{}')).toEqual({ fsyncDelayMs: 0 });
  });

  it('takes the edges of each range: 0 and 1 for rates, 1 for cpuShare', () => {
    expect(worker({ spawnFailRate: 0, crashRate: 1, timeoutRate: 1, cpuShare: 1 })).toEqual({ spawnFailRate: 0, crashRate: 1, timeoutRate: 1, cpuShare: 1 });
    expect(worker('{"spawnFailRate": 1.0}')).toEqual({ ...workerDefaults, spawnFailRate: 1 });
    expect(worker({ cpuShare: Number.MIN_VALUE })).toEqual({ ...workerDefaults, cpuShare: Number.MIN_VALUE });
    expect(coordinator(`{"fsyncDelayMs": ${fsyncDelayMsMax}}`)).toEqual({ fsyncDelayMs: fsyncDelayMsMax });
  });

  it('reads -0 as 0', () => {
    const parsed = worker('{"crashRate": -0}') as { crashRate: number };
    expect(Object.is(parsed.crashRate, 0)).toBe(true);
    expect(Object.is((coordinator('{"fsyncDelayMs": -0}') as { fsyncDelayMs: number }).fsyncDelayMs, 0)).toBe(true);
  });

  it.each([
    ['a rate just over 1', '{"crashRate": 1.0001}', /crashRate must be a number in \[0, 1\], got 1\.0001/],
    ['a negative rate', '{"timeoutRate": -0.1}', /timeoutRate must be a number in \[0, 1\]/],
    ['cpuShare 0', '{"cpuShare": 0}', /cpuShare must be a number in \(0, 1\], got 0/],
    ['cpuShare over 1', '{"cpuShare": 1.5}', /cpuShare must be a number in \(0, 1\]/],
    ['the string "NaN"', '{"spawnFailRate": "NaN"}', /spawnFailRate must be a number in \[0, 1\], got "NaN"/],
    ['a numeric string', '{"spawnFailRate": "0.5"}', /spawnFailRate must be a number/],
    ['null', '{"cpuShare": null}', /cpuShare must be a number/],
    ['a bare NaN (not JSON)', '{"spawnFailRate": NaN}', /the body is not JSON/],
    ['an unknown key', '{"crashRate": 0.1, "explodeRate": 1}', /unknown field "explodeRate"; expected any of spawnFailRate, crashRate, timeoutRate, cpuShare/],
    ['a __proto__ key', '{"__proto__": {"crashRate": 1}}', /unknown field "__proto__"/],
    ['an array', '[0.5]', /must be a JSON object/],
    ['a number', '0.5', /must be a JSON object/],
    ['null body', 'null', /must be a JSON object/],
    ['an empty body', '', /the body is not JSON/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => worker(text)).toThrow(ChaosSettingsError);
    expect(() => worker(text)).toThrow(message);
  });

  it.each([
    ['a fraction', '{"fsyncDelayMs": 1.5}'],
    ['a negative delay', '{"fsyncDelayMs": -1}'],
    ['a delay over the limit', `{"fsyncDelayMs": ${fsyncDelayMsMax + 1}}`],
    ['1e400 (Infinity)', '{"fsyncDelayMs": 1e400}'],
    ['a string', '{"fsyncDelayMs": "50"}'],
    ['a worker field', '{"crashRate": 0}'],
  ])('refuses a coordinator body with %s', (_what, text) => {
    expect(() => coordinator(text)).toThrow(ChaosSettingsError);
  });
});

/** One HTTP request with a raw body (fetch cannot send a body with a wrong length or to a closing server as plainly). */
function send(base: string, method: string, path: string, body?: string | Buffer): Promise<{ status: number; json: unknown; headers: Record<string, unknown> }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text === '' ? null : (JSON.parse(text) as unknown), headers: res.headers });
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

interface Target {
  readonly base: string;
  readonly lines: Record<string, unknown>[];
  readonly defaults: Record<string, number>;
  readonly valid: Record<string, number>;
  readonly invalid: Record<string, unknown>;
  readonly kind: 'worker' | 'coordinator';
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function workerTarget(on: boolean): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-hooks-'));
  const { logger, lines } = captureLogger();
  const hooks = on ? new WorkerChaosHooks({ seed: 1, logger }) : null;
  const http = await startWorkerHttp('127.0.0.1', 0, dir, () => null, hooks);
  closers.push(async () => {
    hooks?.stop();
    await http.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { base: `http://${http.address}`, lines, defaults: workerDefaults, valid: { crashRate: 0.5, cpuShare: 0.25 }, invalid: { crashRate: 2 }, kind: 'worker' };
}

async function coordinatorTarget(on: boolean): Promise<Target> {
  const { logger, lines } = captureLogger();
  const hooks = on ? new CoordinatorChaosHooks(logger) : null;
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics: new NodeMetrics({ nodeId: 'n1', defaultMetrics: false }),
    livez: () => ({ ok: true }),
    readyz: () => ({ ok: true, reason: '' }),
    logger,
    chaos: hooks,
  });
  closers.push(async () => {
    hooks?.stop();
    await server.close();
  });
  return { base: `http://127.0.0.1:${server.address.port}`, lines, defaults: { fsyncDelayMs: 0 }, valid: { fsyncDelayMs: 50 }, invalid: { fsyncDelayMs: 0.5 }, kind: 'coordinator' };
}

describe.each([
  ['worker', workerTarget],
  ['coordinator', coordinatorTarget],
] as const)('/chaos on a %s', (_name, start) => {
  it('reads, replaces and resets the settings, logging each change at info', async () => {
    const t = await start(true);
    expect(await send(t.base, 'GET', '/chaos')).toMatchObject({ status: 200, json: t.defaults });
    expect(await send(t.base, 'PUT', '/chaos', JSON.stringify(t.valid))).toMatchObject({ status: 200, json: { ...t.defaults, ...t.valid } });
    expect(await send(t.base, 'GET', '/chaos')).toMatchObject({ status: 200, json: { ...t.defaults, ...t.valid } });
    // PUT replaces: absent fields go back to their defaults.
    expect(await send(t.base, 'PUT', '/chaos', '{}')).toMatchObject({ status: 200, json: t.defaults });
    await send(t.base, 'PUT', '/chaos', JSON.stringify(t.valid));
    expect(await send(t.base, 'DELETE', '/chaos')).toMatchObject({ status: 200, json: t.defaults });
    const changes = t.lines.filter((l) => l['event'] === 'chaos-settings');
    expect(changes).toHaveLength(4);
    expect(changes.every((l) => l['level'] === 30)).toBe(true);
    expect(changes[0]).toMatchObject(t.valid);
    expect(changes[3]).toMatchObject(t.defaults);
  });

  it('answers 400 with a clear message and keeps the settings for a bad value, an unknown key, bad JSON or an oversize body', async () => {
    const t = await start(true);
    await send(t.base, 'PUT', '/chaos', JSON.stringify(t.valid));
    const kept = { ...t.defaults, ...t.valid };
    const bad = [JSON.stringify(t.invalid), '{"nope": 1}', '{not json', '', JSON.stringify({ ...t.valid, pad: 'x'.repeat(chaosBodyBytesMax) })];
    for (const body of bad) {
      const reply = await send(t.base, 'PUT', '/chaos', body);
      expect(reply.status, body.slice(0, 40)).toBe(400);
      expect((reply.json as { error: string }).error).toMatch(/must be|unknown field|not JSON|over 65536 bytes/);
      expect(await send(t.base, 'GET', '/chaos')).toMatchObject({ status: 200, json: kept });
    }
    expect((await send(t.base, 'PUT', '/chaos', JSON.stringify({ ...t.valid, pad: 'x'.repeat(chaosBodyBytesMax) }))).json).toEqual({ error: 'the body is over 65536 bytes' });
    expect(t.lines.filter((l) => l['event'] === 'chaos-settings')).toHaveLength(1);
  });

  it('refuses other methods with 405 and an Allow header', async () => {
    const t = await start(true);
    const reply = await send(t.base, 'POST', '/chaos', '{}');
    expect(reply.status).toBe(405);
    expect(reply.headers['allow']).toBe('GET, HEAD, PUT, DELETE');
  });

  it('answers 404 naming the flag when the hooks are off, for every method', async () => {
    const t = await start(false);
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const reply = await send(t.base, method, '/chaos', method === 'PUT' ? JSON.stringify(t.valid) : undefined);
      expect(reply).toMatchObject({ status: 404, json: { error: `chaos hooks are off; start the ${t.kind} with --chaos-hooks` } });
    }
  });
});

describe('the coordinator chaosHooks setting', () => {
  const base = { id: 'n1', peers: 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003', dataDir: '/var/lib/testudo/n1' };
  let yamlDir = '';
  afterEach(async () => {
    if (yamlDir !== '') await rm(yamlDir, { recursive: true, force: true });
    yamlDir = '';
  });

  it('is off by default and says nothing', () => {
    const config = loadCoordinatorConfig({ flags: base, env: {} });
    expect(config.chaosHooks).toBe(false);
    expect(config.sources.chaosHooks).toBe('default');
    expect(config.warnings.some((w) => w.includes('chaos'))).toBe(false);
  });

  it('comes from the flag, TESTUDO_CHAOS_HOOKS or the YAML file, flags first, with a warning when on', async () => {
    expect(flagName('chaosHooks')).toBe('--chaos-hooks');
    expect(envName('chaosHooks')).toBe('TESTUDO_CHAOS_HOOKS');
    const fromFlag = loadCoordinatorConfig({ flags: { ...base, chaosHooks: true }, env: { TESTUDO_CHAOS_HOOKS: 'false' } });
    expect(fromFlag).toMatchObject({ chaosHooks: true, sources: { chaosHooks: 'flag --chaos-hooks' } });
    expect(fromFlag.warnings.some((w) => /chaos hooks are on \(flag --chaos-hooks\)/.test(w))).toBe(true);
    for (const [text, on] of [['true', true], ['1', true], ['ON', true], ['yes', true], ['false', false], ['0', false], ['off', false], ['No', false]] as const) {
      expect(loadCoordinatorConfig({ flags: base, env: { TESTUDO_CHAOS_HOOKS: text } }).chaosHooks).toBe(on);
    }
    yamlDir = await mkdtemp(join(tmpdir(), 'testudo-hooks-yaml-'));
    const file = join(yamlDir, 'c.yaml');
    await writeFile(file, 'logLevel: info\nchaosHooks: true\n');
    expect(loadCoordinatorConfig({ flags: base, env: {}, configPath: file })).toMatchObject({ chaosHooks: true, sources: { chaosHooks: `file ${file}:2` } });
  });

  it.each(['maybe', 'constructor', '2', ''])('refuses TESTUDO_CHAOS_HOOKS=%j unless empty (unset)', (text) => {
    if (text === '') {
      expect(loadCoordinatorConfig({ flags: base, env: { TESTUDO_CHAOS_HOOKS: text } }).chaosHooks).toBe(false);
      return;
    }
    expect(() => loadCoordinatorConfig({ flags: base, env: { TESTUDO_CHAOS_HOOKS: text } })).toThrow(ConfigError);
    expect(() => loadCoordinatorConfig({ flags: base, env: { TESTUDO_CHAOS_HOOKS: text } })).toThrow(/env TESTUDO_CHAOS_HOOKS: chaosHooks: expected true or false/);
  });
});
