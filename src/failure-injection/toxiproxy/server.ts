/**
 * A server speaking Toxiproxy 2.12's HTTP API (see docs/toxiproxy.md), so
 * that `toxiproxy-node-client`, or anything else written for Toxiproxy, can
 * drive it — and a real Toxiproxy can replace it by URL.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ToxicProxy } from './proxy.js';
import {
  TOXIC_ATTRIBUTES,
  TOXIC_GO_TYPES,
  createPrng,
  isToxicType,
  type Direction,
  type Rng,
  type ToxicSpec,
} from './toxics.js';

/** The Toxiproxy version this server reports and imitates. */
export const TOXIPROXY_VERSION = '2.12.0';

export interface ToxiproxyServerOptions {
  /** Address to bind the API to; default 127.0.0.1. */
  host?: string;
  /** Port of the API; default 8474, 0 picks a free one. */
  port?: number;
  /** Seed of the PRNG behind jitter, toxicity and slicing; default: time. */
  seed?: number;
}

export interface ToxiproxyServer {
  /** The bound API address, `host:port`. */
  address: string;
  /** Base URL for clients, e.g. `http://127.0.0.1:8474`. */
  url: string;
  /** Stops the API and every proxy (closing all their connections). */
  close(): Promise<void>;
}

/** An API error: `{"error": message, "status": status}`. */
class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const badBody = (detail: string): ApiError => new ApiError(`bad request body: ${detail}`, 400);
const missingField = (detail: string): ApiError => new ApiError(`missing required field: ${detail}`, 400);
const proxyNotFound = (): ApiError => new ApiError('proxy not found', 404);
const proxyExists = (): ApiError => new ApiError('proxy already exists', 409);
const invalidStream = (): ApiError =>
  new ApiError('stream was invalid, can be either upstream or downstream', 400);
const invalidToxicType = (): ApiError => new ApiError('invalid toxic type', 400);
const toxicExists = (): ApiError => new ApiError('toxic already exists', 409);
const toxicNotFound = (): ApiError => new ApiError('toxic not found', 404);

// ---------------------------------------------------------------------------
// JSON decoding with Go's encoding/json semantics (as far as it matters here):
// the body must be one JSON value, keys match case-insensitively, null leaves
// the default, a value of the wrong type is an error, unknown keys are ignored.

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function jsonKind(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // number, string
}

/**
 * Decodes the first JSON value of a body, as Go's json.Decoder does (data
 * after it is ignored), with Go-like error messages.
 */
function parseBody(text: string): Json {
  if (text.trim() === '') throw badBody('EOF');
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    const msg = (e as Error).message;
    const after = /non-whitespace character after JSON at position (\d+)/.exec(msg);
    if (after) return parseBody(text.slice(0, Number(after[1])));
    if (/end of JSON input/i.test(msg)) throw badBody('unexpected EOF');
    const token = /Unexpected token '(.)'/.exec(msg);
    if (token) throw badBody(`invalid character '${token[1]}' looking for beginning of value`);
    throw badBody(`invalid character in JSON: ${msg}`);
  }
}

function field(obj: JsonObject, key: string): Json | undefined {
  if (Object.prototype.hasOwnProperty.call(obj, key)) return obj[key];
  const k = Object.keys(obj).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : obj[k];
}

function typeError(v: Json, struct: string, key: string, goType: string): ApiError {
  const kind = jsonKind(v);
  const shown = kind === 'number' && goType.startsWith('int') ? `number ${String(v)}` : kind;
  return badBody(`json: cannot unmarshal ${shown} into Go struct field ${struct}.${key} of type ${goType}`);
}

function stringField(obj: JsonObject, key: string, struct: string, dflt: string): string {
  const v = field(obj, key);
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string') throw typeError(v, struct, key, 'string');
  return v;
}

function boolField(obj: JsonObject, key: string, struct: string, dflt: boolean): boolean {
  const v = field(obj, key);
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw typeError(v, struct, key, 'bool');
  return v;
}

function floatField(obj: JsonObject, key: string, struct: string, dflt: number): number {
  const v = field(obj, key);
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number') throw typeError(v, struct, key, 'float32');
  return Math.fround(v) === v ? v : Number(Math.fround(v).toPrecision(7));
}

function intField(obj: JsonObject, key: string, struct: string, dflt: number): number {
  const v = field(obj, key);
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw typeError(v, struct, key, 'int64');
  return v;
}

function asObject(v: Json, goType: string): JsonObject | null {
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw badBody(`json: cannot unmarshal ${jsonKind(v)} into Go value of type ${goType}`);
  }
  return v;
}

interface ProxyInput {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
}

function decodeProxy(v: Json, defaults: ProxyInput, goType = 'toxiproxy.Proxy'): ProxyInput {
  const obj = asObject(v, goType);
  if (!obj) return { ...defaults };
  return {
    name: stringField(obj, 'name', 'Proxy', defaults.name),
    listen: stringField(obj, 'listen', 'Proxy', defaults.listen),
    upstream: stringField(obj, 'upstream', 'Proxy', defaults.upstream),
    enabled: boolField(obj, 'enabled', 'Proxy', defaults.enabled),
  };
}

function decodeAttributes(
  v: Json | undefined,
  type: keyof typeof TOXIC_ATTRIBUTES,
  base: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of TOXIC_ATTRIBUTES[type]) out[key] = base[key] ?? 0;
  if (v === undefined || v === null) return out;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw badBody(`json: cannot unmarshal ${jsonKind(v)} into Go struct field .attributes of type toxics.${TOXIC_GO_TYPES[type]}`);
  }
  for (const key of TOXIC_ATTRIBUTES[type]) {
    out[key] = intField(v, key, `${TOXIC_GO_TYPES[type]}.attributes`, out[key] ?? 0);
  }
  return out;
}

// ---------------------------------------------------------------------------

interface Reply {
  status: number;
  body?: unknown;
}

class ToxiproxyApi {
  private readonly proxies = new Map<string, ToxicProxy>();
  private lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly rng: Rng) {}

  /** Runs API calls one at a time, as Toxiproxy's locks do. */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  async closeAll(): Promise<void> {
    for (const p of this.proxies.values()) await p.stop();
    this.proxies.clear();
  }

  private getProxy(name: string): ToxicProxy {
    const p = this.proxies.get(name);
    if (!p) throw proxyNotFound();
    return p;
  }

  private proxyJson(p: ToxicProxy): unknown {
    return { ...p.info(), toxics: p.toxicList().map(toxicJson) };
  }

  index(): Reply {
    const out: Record<string, unknown> = {};
    for (const name of [...this.proxies.keys()].sort()) {
      const p = this.proxies.get(name);
      if (p) out[name] = this.proxyJson(p);
    }
    return { status: 200, body: out };
  }

  async create(text: string): Promise<Reply> {
    const input = decodeProxy(parseBody(text), { name: '', listen: '', upstream: '', enabled: true });
    if (input.name.length < 1) throw missingField('name');
    if (input.upstream.length < 1) throw missingField('upstream');
    if (this.proxies.has(input.name)) throw proxyExists();
    const p = new ToxicProxy(input.name, input.listen, input.upstream, this.rng);
    if (input.enabled) await p.start();
    this.proxies.set(p.name, p);
    return { status: 201, body: this.proxyJson(p) };
  }

  async populate(text: string): Promise<Reply> {
    let json: Json;
    try {
      json = parseBody(text);
    } catch (e) {
      return populateError(e);
    }
    const inputs: ProxyInput[] = [];
    try {
      const goType = '[]struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }';
      if (json !== null && !Array.isArray(json)) {
        throw badBody(`json: cannot unmarshal ${jsonKind(json)} into Go value of type ${goType}`);
      }
      const list = json ?? [];
      const names = new Set<string>();
      list.forEach((item, i) => {
        const input = decodeProxy(item, { name: '', listen: '', upstream: '', enabled: true }, goType);
        if (input.name.length < 1) throw missingField(`name at proxy ${i + 1}`);
        if (input.upstream.length < 1) throw missingField(`upstream at proxy ${i + 1}`);
        if (names.has(input.name)) throw new Error(`duplicate proxy name ${JSON.stringify(input.name)}`);
        names.add(input.name);
        inputs.push(input);
      });
    } catch (e) {
      return populateError(e);
    }
    const result: ToxicProxy[] = [];
    try {
      for (const input of inputs) {
        const existing = this.proxies.get(input.name);
        if (existing && existing.listen === input.listen && existing.upstream === input.upstream) {
          result.push(existing);
          continue;
        }
        if (existing) {
          await existing.stop();
          this.proxies.delete(input.name);
        }
        const p = new ToxicProxy(input.name, input.listen, input.upstream, this.rng);
        if (input.enabled) await p.start();
        this.proxies.set(p.name, p);
        result.push(p);
      }
    } catch (e) {
      return populateError(e);
    }
    return { status: 201, body: { proxies: result.map((p) => this.proxyJson(p)) } };
  }

  show(name: string): Reply {
    return { status: 200, body: this.proxyJson(this.getProxy(name)) };
  }

  async update(name: string, text: string): Promise<Reply> {
    const p = this.getProxy(name);
    const input = decodeProxy(parseBody(text), { ...p.info() });
    await p.update(input);
    return { status: 200, body: this.proxyJson(p) };
  }

  async remove(name: string): Promise<Reply> {
    const p = this.getProxy(name);
    this.proxies.delete(name);
    await p.stop();
    return { status: 204 };
  }

  async reset(): Promise<Reply> {
    for (const p of this.proxies.values()) {
      await p.start();
      await p.resetToxics();
    }
    return { status: 204 };
  }

  toxicIndex(name: string): Reply {
    return { status: 200, body: this.getProxy(name).toxicList().map(toxicJson) };
  }

  toxicCreate(name: string, text: string): Reply {
    const p = this.getProxy(name);
    const json = parseBody(text);
    const obj = asObject(json, 'toxics.ToxicWrapper') ?? {};
    const struct = 'ToxicWrapper';
    let tname = stringField(obj, 'name', struct, '');
    const type = stringField(obj, 'type', struct, '');
    const stream = stringField(obj, 'stream', struct, 'downstream');
    const toxicity = floatField(obj, 'toxicity', struct, 1);
    if (stream !== 'upstream' && stream !== 'downstream') throw invalidStream();
    if (tname === '') tname = `${type}_${stream}`;
    if (!isToxicType(type)) throw invalidToxicType();
    if (p.findToxic(tname)) throw toxicExists();
    const attributes = decodeAttributes(field(obj, 'attributes'), type, {});
    const spec: ToxicSpec = { name: tname, type, stream: stream as Direction, toxicity, attributes };
    p.addToxic(spec);
    return { status: 200, body: toxicJson(spec) };
  }

  toxicShow(name: string, toxic: string): Reply {
    const spec = this.getProxy(name).findToxic(toxic);
    if (!spec) throw toxicNotFound();
    return { status: 200, body: toxicJson(spec) };
  }

  toxicUpdate(name: string, toxic: string, text: string): Reply {
    const p = this.getProxy(name);
    const old = p.findToxic(toxic);
    if (!old) throw toxicNotFound();
    const obj = asObject(parseBody(text), 'struct { Attributes interface {} "json:\\"attributes\\""; Toxicity float32 "json:\\"toxicity\\"" }') ?? {};
    const attributes = decodeAttributes(field(obj, 'attributes'), old.type, old.attributes);
    const toxicity = floatField(obj, 'toxicity', '', old.toxicity);
    const spec: ToxicSpec = { ...old, attributes, toxicity };
    p.updateToxic(spec);
    return { status: 200, body: toxicJson(spec) };
  }

  async toxicDelete(name: string, toxic: string): Promise<Reply> {
    const p = this.getProxy(name);
    if (!p.findToxic(toxic)) throw toxicNotFound();
    await p.removeToxic(toxic);
    return { status: 204 };
  }
}

/** A toxic in Toxiproxy's field order. */
function toxicJson(t: ToxicSpec): unknown {
  return { attributes: t.attributes, name: t.name, type: t.type, stream: t.stream, toxicity: t.toxicity };
}

function populateError(e: unknown): Reply {
  const err = e instanceof ApiError ? e : new ApiError(errorMessage(e), 500);
  return { status: err.status, body: { error: err.message, status: err.status, proxies: null } };
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------

function send(res: http.ServerResponse, reply: Reply): void {
  if (reply.status === 204 || reply.body === undefined) {
    res.writeHead(reply.status);
    res.end();
    return;
  }
  const data = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(data),
  });
  res.end(data);
}

/** Like Go's http.Error: text/plain, body followed by a newline. */
function sendText(res: http.ServerResponse, status: number, text: string): void {
  const data = `${text}\n`;
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(data),
  });
  res.end(data);
}

function sendError(res: http.ServerResponse, e: unknown): void {
  const err = e instanceof ApiError ? e : new ApiError(errorMessage(e), 500);
  sendText(res, err.status, JSON.stringify({ error: err.message, status: err.status }));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

type Handler = (params: string[], body: string) => Reply | Promise<Reply>;

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
}

function routes(api: ToxiproxyApi): Route[] {
  const seg = '([^/]+)';
  return [
    { pattern: /^\/reset$/, methods: { POST: () => api.reset() } },
    {
      pattern: /^\/proxies$/,
      methods: { GET: () => api.index(), POST: (_p, body) => api.create(body) },
    },
    { pattern: /^\/populate$/, methods: { POST: (_p, body) => api.populate(body) } },
    {
      pattern: new RegExp(`^/proxies/${seg}$`),
      methods: {
        GET: ([p]) => api.show(p ?? ''),
        POST: ([p], body) => api.update(p ?? '', body),
        PATCH: ([p], body) => api.update(p ?? '', body),
        DELETE: ([p]) => api.remove(p ?? ''),
      },
    },
    {
      pattern: new RegExp(`^/proxies/${seg}/toxics$`),
      methods: {
        GET: ([p]) => api.toxicIndex(p ?? ''),
        POST: ([p], body) => api.toxicCreate(p ?? '', body),
      },
    },
    {
      pattern: new RegExp(`^/proxies/${seg}/toxics/${seg}$`),
      methods: {
        GET: ([p, t]) => api.toxicShow(p ?? '', t ?? ''),
        POST: ([p, t], body) => api.toxicUpdate(p ?? '', t ?? '', body),
        PATCH: ([p, t], body) => api.toxicUpdate(p ?? '', t ?? '', body),
        DELETE: ([p, t]) => api.toxicDelete(p ?? '', t ?? ''),
      },
    },
    {
      pattern: /^\/version$/,
      methods: { GET: () => ({ status: 200, body: undefined }) },
    },
  ];
}

async function handle(api: ToxiproxyApi, table: Route[], req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readBody(req);
  if ((req.headers['user-agent'] ?? '').startsWith('Mozilla/')) {
    sendText(res, 403, 'User agent not allowed');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const method = req.method ?? 'GET';
  for (const route of table) {
    const m = route.pattern.exec(path);
    if (!m) continue;
    const handler = route.methods[method];
    if (!handler) {
      res.writeHead(405);
      res.end();
      return;
    }
    if (path === '/version') {
      const data = `{"version": "${TOXIPROXY_VERSION}"}\n`;
      res.writeHead(200, { 'Content-Type': 'application/json;charset=utf-8', 'Content-Length': Buffer.byteLength(data) });
      res.end(data);
      return;
    }
    let params: string[];
    try {
      params = m.slice(1).map((s) => decodeURIComponent(s));
    } catch {
      params = m.slice(1);
    }
    try {
      send(res, await api.serialize(async () => handler(params, body)));
    } catch (e) {
      // ProxyStartError (e.g. address in use) and other errors are 500s.
      sendError(res, e);
    }
    return;
  }
  sendText(res, 404, '404 page not found');
}

/**
 * Starts a Toxiproxy-compatible API server. Proxies it creates listen where
 * their `listen` field says (a port of 0 picks a free one).
 */
export async function startToxiproxyServer(options: ToxiproxyServerOptions = {}): Promise<ToxiproxyServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8474;
  const api = new ToxiproxyApi(createPrng(options.seed ?? Date.now()));
  const table = routes(api);
  const server = http.createServer((req, res) => {
    handle(api, table, req, res).catch((e: unknown) => {
      if (!res.headersSent) sendError(res, e);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
  let closing: Promise<void> | undefined;
  return {
    address: shown,
    url: `http://${shown}`,
    close(): Promise<void> {
      closing ??= (async () => {
        await api.serialize(() => api.closeAll());
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}
