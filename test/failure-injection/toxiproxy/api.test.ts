import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy, ToxiproxyError, type ICreateToxicBody } from 'toxiproxy-node-client';
import { startToxiproxyServer, type ToxiproxyServer } from '../../../src/failure-injection/toxiproxy/index.js';
import { connect, startEcho, until, type EchoServer } from './helpers.js';

let server: ToxiproxyServer;
let echo: EchoServer;
let client: Toxiproxy;

beforeAll(async () => {
  server = await startToxiproxyServer({ host: '127.0.0.1', port: 0, seed: 1 });
  echo = await startEcho();
  client = new Toxiproxy(server.url);
});

afterAll(async () => {
  await server.close();
  await echo.close();
});

afterEach(async () => {
  for (const p of Object.values(await client.getAll())) await p.remove();
});

async function call(method: string, path: string, body?: string): Promise<{ status: number; text: string; type: string | null }> {
  const init: RequestInit = { method };
  if (body !== undefined) init.body = body;
  const res = await fetch(server.url + path, init);
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
}

function errorBody(error: string, status: number): string {
  return `${JSON.stringify({ error, status })}\n`;
}

const proxyBody = (name: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ name, listen: '127.0.0.1:0', upstream: echo.address, ...extra });

function latency(latencyMs: number, extra: Partial<ICreateToxicBody<unknown>> = {}): ICreateToxicBody<{ latency: number; jitter: number }> {
  return {
    type: 'latency',
    attributes: { latency: latencyMs, jitter: 0 },
    ...extra,
  } as ICreateToxicBody<{ latency: number; jitter: number }>;
}

describe('toxiproxy API through toxiproxy-node-client', () => {
  it('reports its version', async () => {
    const text = await client.getVersion();
    expect(JSON.parse(text)).toEqual({ version: '2.12.0' });
    const res = await call('GET', '/version');
    expect(res.status).toBe(200);
    expect(res.text).toBe('{"version": "2.12.0"}\n');
  });

  it('creates, gets, lists, updates and removes proxies', async () => {
    expect(await client.getAll()).toEqual({});
    expect((await call('GET', '/proxies')).text).toBe('{}');

    const p = await client.createProxy({ name: 'redis', listen: '127.0.0.1:0', upstream: echo.address });
    expect(p.name).toBe('redis');
    expect(p.enabled).toBe(true);
    expect(p.upstream).toBe(echo.address);
    expect(p.listen).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(p.listen).not.toBe('127.0.0.1:0');

    const got = await client.get('redis');
    expect(got.toJson()).toEqual(p.toJson());
    const raw = JSON.parse((await call('GET', '/proxies/redis')).text) as Record<string, unknown>;
    expect(Object.keys(raw)).toEqual(['name', 'listen', 'upstream', 'enabled', 'toxics']);
    expect(raw.toxics).toEqual([]);

    await client.createProxy({ name: 'a-first', listen: '127.0.0.1:0', upstream: echo.address, enabled: false });
    const all = await client.getAll();
    expect(Object.keys(all)).toEqual(['a-first', 'redis']);
    expect(all['a-first']?.enabled).toBe(false);
    expect(all['a-first']?.listen).toBe('127.0.0.1:0');

    // Disable, then enable again (same listen address).
    const disabled = await p.update({ enabled: false, listen: p.listen, upstream: p.upstream });
    expect(disabled.enabled).toBe(false);
    expect(disabled.listen).toBe(p.listen);
    const enabled = await disabled.update({ enabled: true, listen: p.listen, upstream: p.upstream });
    expect(enabled.enabled).toBe(true);

    // PATCH with only some fields keeps the others.
    const patched = await call('PATCH', '/proxies/redis', '{"enabled":false}');
    expect(patched.status).toBe(200);
    expect(JSON.parse(patched.text)).toMatchObject({ name: 'redis', listen: p.listen, upstream: echo.address, enabled: false });

    // A new listen address restarts the proxy there.
    const moved = await call('POST', '/proxies/redis', JSON.stringify({ listen: '127.0.0.1:0', enabled: true }));
    expect(moved.status).toBe(200);
    const movedBody = JSON.parse(moved.text) as { listen: string; enabled: boolean };
    expect(movedBody.enabled).toBe(true);
    expect(movedBody.listen).not.toBe('127.0.0.1:0');
    const probe = await connect(movedBody.listen);
    probe.socket.write('ping');
    await probe.waitBytes(4);
    expect(probe.text()).toBe('ping');
    probe.socket.destroy();

    await (await client.get('redis')).remove();
    const del = await call('DELETE', '/proxies/a-first');
    expect(del.status).toBe(204);
    expect(del.text).toBe('');
    expect(await client.getAll()).toEqual({});
  });

  it('returns the documented errors for proxies', async () => {
    await client.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: echo.address });
    await expect(client.get('nope')).rejects.toBeInstanceOf(ToxiproxyError);
    await expect(client.createProxy({ name: 'p', listen: '127.0.0.1:0', upstream: echo.address })).rejects.toThrow(
      'Request failed with status code 409',
    );

    let r = await call('GET', '/proxies/nope');
    expect(r).toEqual({ status: 404, text: errorBody('proxy not found', 404), type: 'text/plain; charset=utf-8' });
    expect((await call('POST', '/proxies', proxyBody('p'))).text).toBe(errorBody('proxy already exists', 409));
    r = await call('POST', '/proxies', JSON.stringify({ upstream: echo.address }));
    expect([r.status, r.text]).toEqual([400, errorBody('missing required field: name', 400)]);
    r = await call('POST', '/proxies', JSON.stringify({ name: 'q' }));
    expect([r.status, r.text]).toEqual([400, errorBody('missing required field: upstream', 400)]);
    for (const bad of ['', 'not json', '{"name": 5, "upstream": "x:1"}', '[]']) {
      r = await call('POST', '/proxies', bad);
      expect(r.status).toBe(400);
      expect((JSON.parse(r.text) as { error: string }).error).toMatch(/^bad request body: /);
    }
    expect((await call('PATCH', '/proxies/nope', '{}')).status).toBe(404);
    expect((await call('DELETE', '/proxies/nope')).text).toBe(errorBody('proxy not found', 404));
    expect((await call('PATCH', '/proxies/p', '{"enabled":"yes"}')).status).toBe(400);

    // Address already in use: 500 with the system's message.
    const used = (await client.get('p')).listen;
    r = await call('POST', '/proxies', JSON.stringify({ name: 'clash', listen: used, upstream: echo.address }));
    expect(r.status).toBe(500);
    expect((JSON.parse(r.text) as { error: string }).error).toContain('address already in use');
    expect(Object.keys(await client.getAll())).toEqual(['p']);

    // Unknown routes and methods, as gorilla/mux answers them.
    expect((await call('GET', '/nothing')).text).toBe('404 page not found\n');
    expect((await call('PUT', '/proxies')).status).toBe(405);
  });

  it('populates: validates all first, keeps identical proxies, replaces changed ones', async () => {
    const first = await client.populate([
      { name: 'one', listen: '127.0.0.1:0', upstream: echo.address },
      { name: 'two', listen: '127.0.0.1:0', upstream: echo.address, enabled: false },
    ]);
    expect(Object.keys(first).sort()).toEqual(['one', 'two']);
    expect(first.two?.enabled).toBe(false);
    const one = await client.get('one');
    await one.addToxic(latency(10));

    // Same listen and upstream: kept with its toxics; different: replaced.
    const r = await call(
      'POST',
      '/populate',
      JSON.stringify([
        { name: 'one', listen: one.listen, upstream: echo.address },
        { name: 'two', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' },
      ]),
    );
    expect(r.status).toBe(201);
    const body = JSON.parse(r.text) as { proxies: Array<{ name: string; upstream: string; toxics: unknown[] }> };
    expect(Object.keys(body)).toEqual(['proxies']);
    expect(body.proxies.map((p) => p.name)).toEqual(['one', 'two']);
    expect(body.proxies[0]?.toxics).toHaveLength(1);
    expect(body.proxies[1]?.upstream).toBe('127.0.0.1:1');

    // One invalid entry: nothing is created.
    const bad = await call(
      'POST',
      '/populate',
      JSON.stringify([{ name: 'three', listen: '127.0.0.1:0', upstream: echo.address }, { name: 'four' }]),
    );
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toEqual({ error: 'missing required field: upstream at proxy 2', status: 400, proxies: null });
    expect(Object.keys(await client.getAll()).sort()).toEqual(['one', 'two']);
    expect((await call('POST', '/populate', '{"name":"x"}')).status).toBe(400);
    expect(JSON.parse((await call('POST', '/populate', '[]')).text)).toEqual({ proxies: [] });
  });

  it('adds, gets, lists, updates and removes toxics', async () => {
    const p = await client.createProxy({ name: 'tox', listen: '127.0.0.1:0', upstream: echo.address });
    const t = await p.addToxic(latency(100));
    expect(t.toJson()).toEqual({
      name: 'latency_downstream',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 100, jitter: 0 },
    });
    const up = await p.addToxic({
      name: 'slow_up',
      type: 'bandwidth',
      stream: 'upstream',
      toxicity: 0.5,
      attributes: { rate: 100, bogus: 7 },
    } as ICreateToxicBody<{ rate: number }>);
    expect(up.attributes).toEqual({ rate: 100 });
    expect(up.toxicity).toBe(0.5);

    // Raw creation: 200 (not 201), Toxiproxy's field order, missing attributes are 0.
    const raw = await call('POST', '/proxies/tox/toxics', '{"type":"slicer","stream":"upstream"}');
    expect(raw.status).toBe(200);
    expect(raw.text).toBe(
      '{"attributes":{"average_size":0,"size_variation":0,"delay":0},"name":"slicer_upstream","type":"slicer","stream":"upstream","toxicity":1}',
    );

    // List: upstream toxics first.
    const list = JSON.parse((await call('GET', '/proxies/tox/toxics')).text) as Array<{ name: string }>;
    expect(list.map((x) => x.name)).toEqual(['slow_up', 'slicer_upstream', 'latency_downstream']);
    const shown = JSON.parse((await call('GET', '/proxies/tox')).text) as { toxics: Array<{ name: string }> };
    expect(shown.toxics.map((x) => x.name)).toEqual(['slow_up', 'slicer_upstream', 'latency_downstream']);

    const fetched = await p.getToxic<{ latency: number; jitter: number }>('latency_downstream');
    expect(fetched.attributes.latency).toBe(100);

    // Update merges attributes and keeps the toxicity when absent.
    const updated = await fetched.update({ ...fetched.toJson(), attributes: { latency: 5, jitter: 1 } });
    expect(updated.attributes).toEqual({ latency: 5, jitter: 1 });
    const merged = await call('PATCH', '/proxies/tox/toxics/slow_up', '{"attributes":{}}');
    expect(merged.status).toBe(200);
    expect(JSON.parse(merged.text)).toMatchObject({ attributes: { rate: 100 }, toxicity: 0.5 });
    const partial = await call('POST', '/proxies/tox/toxics/latency_downstream', '{"attributes":{"jitter":3}}');
    expect(JSON.parse(partial.text)).toMatchObject({ attributes: { latency: 5, jitter: 3 }, toxicity: 1 });
    const tox0 = await call('POST', '/proxies/tox/toxics/latency_downstream', '{"toxicity":0}');
    expect(JSON.parse(tox0.text)).toMatchObject({ attributes: { latency: 5, jitter: 3 }, toxicity: 0 });

    await updated.remove();
    const del = await call('DELETE', '/proxies/tox/toxics/slow_up');
    expect([del.status, del.text]).toEqual([204, '']);
    expect(JSON.parse((await call('GET', '/proxies/tox/toxics')).text)).toHaveLength(1);
  });

  it('returns the documented errors for toxics', async () => {
    const p = await client.createProxy({ name: 't', listen: '127.0.0.1:0', upstream: echo.address });
    await p.addToxic(latency(1));
    await expect(p.addToxic(latency(1))).rejects.toThrow('Request failed with status code 409');
    await expect(p.getToxic('nope')).rejects.toThrow('Request failed with status code 404');

    let r = await call('POST', '/proxies/t/toxics', '{"type":"latency"}');
    expect([r.status, r.text]).toEqual([409, errorBody('toxic already exists', 409)]);
    r = await call('POST', '/proxies/t/toxics', '{"type":"latency","stream":"sideways"}');
    expect([r.status, r.text]).toEqual([400, errorBody('stream was invalid, can be either upstream or downstream', 400)]);
    r = await call('POST', '/proxies/t/toxics', '{"type":"down"}');
    expect([r.status, r.text]).toEqual([400, errorBody('invalid toxic type', 400)]);
    r = await call('POST', '/proxies/t/toxics', '{"type":"latency","name":"x","attributes":{"latency":"slow"}}');
    expect(r.status).toBe(400);
    expect((JSON.parse(r.text) as { error: string }).error).toMatch(/^bad request body: /);
    r = await call('POST', '/proxies/t/toxics', '{oops');
    expect(r.status).toBe(400);
    r = await call('POST', '/proxies/nope/toxics', '{"type":"latency"}');
    expect([r.status, r.text]).toEqual([404, errorBody('proxy not found', 404)]);
    r = await call('GET', '/proxies/nope/toxics');
    expect(r.status).toBe(404);
    r = await call('GET', '/proxies/t/toxics/nope');
    expect([r.status, r.text]).toEqual([404, errorBody('toxic not found', 404)]);
    r = await call('PATCH', '/proxies/t/toxics/nope', '{}');
    expect([r.status, r.text]).toEqual([404, errorBody('toxic not found', 404)]);
    r = await call('DELETE', '/proxies/t/toxics/nope');
    expect([r.status, r.text]).toEqual([404, errorBody('toxic not found', 404)]);
    r = await call('DELETE', '/proxies/nope/toxics/latency_downstream');
    expect(r.status).toBe(404);
  });

  it('reset enables every proxy and removes every toxic', async () => {
    const a = await client.createProxy({ name: 'a', listen: '127.0.0.1:0', upstream: echo.address });
    // Ten minutes each way: were either left after the reset, 'x' would not come back within waitBytes' 10 s.
    await a.addToxic(latency(600_000));
    await a.addToxic({ ...latency(600_000), stream: 'upstream' } as ICreateToxicBody<{ latency: number; jitter: number }>);
    await a.update({ enabled: false, listen: a.listen, upstream: a.upstream });
    await client.reset();
    const after = JSON.parse((await call('GET', '/proxies/a')).text) as { enabled: boolean; toxics: unknown[] };
    expect(after).toMatchObject({ enabled: true, toxics: [] });
    const r = await call('POST', '/reset');
    expect([r.status, r.text]).toEqual([204, '']);

    // The proxy works again, without latency.
    const probe = await connect((await client.get('a')).listen);
    probe.socket.write('x');
    await probe.waitBytes(1);
    expect(probe.text()).toBe('x');
    probe.socket.destroy();
  });

  it('rejects browsers like Toxiproxy does', async () => {
    const res = await fetch(`${server.url}/proxies`, { headers: { 'User-Agent': 'Mozilla/5.0' } });
    expect(res.status).toBe(403);
  });

  it('deleting a proxy closes its connections', async () => {
    const p = await client.createProxy({ name: 'gone', listen: '127.0.0.1:0', upstream: echo.address });
    const probe = await connect(p.listen);
    probe.socket.write('hi');
    await probe.waitBytes(2);
    await p.remove();
    await probe.closed;
    await until(() => echo.sockets.size === 0);
  });
});
