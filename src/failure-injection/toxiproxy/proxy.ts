/**
 * One Toxiproxy proxy: a TCP listener whose every accepted connection is
 * paired with a connection to the upstream, joined by two links (upstream:
 * client → server, downstream: server → client) that run the proxy's toxics.
 */
import net from 'node:net';
import { ToxicStage, type Chunk, type Direction, type Rng, type StageHost, type ToxicSpec } from './toxics.js';

/** Pause reading a link's source above this many in-flight bytes. */
const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

/** An error whose message is shown as is with HTTP status 500. */
export class ProxyStartError extends Error {}

/** Splits `host:port` (`[v6]:port`, `:port`) the way Go's net.SplitHostPort does. */
export function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) throw new Error(`address ${address}: missing port in address`);
  let host = address.slice(0, i);
  const portText = address.slice(i + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) throw new Error(`address ${address}: too many colons in address`);
  const port = portText === '' ? 0 : Number(portText);
  if (!/^\d*$/.test(portText) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`address ${address}: invalid port`);
  }
  return { host, port };
}

function formatAddress(addr: net.AddressInfo): string {
  return addr.family === 'IPv6' || addr.address.includes(':')
    ? `[${addr.address}]:${addr.port}`
    : `${addr.address}:${addr.port}`;
}

function goListenError(listen: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'EADDRINUSE') return `listen tcp ${listen}: bind: address already in use`;
  if (err.code === 'EADDRNOTAVAIL') return `listen tcp ${listen}: bind: cannot assign requested address`;
  if (err.code === 'EACCES') return `listen tcp ${listen}: bind: permission denied`;
  return `listen tcp ${listen}: ${err.message}`;
}

/** One direction of one connection. */
class Link implements StageHost {
  stages: ToxicStage[] = [];
  finished = false;
  private inputEnded = false;
  private paused = false;
  private readonly onData = (data: Buffer): void => this.push({ data, t: Date.now() });
  private readonly onEnd = (): void => this.endInput();

  constructor(
    readonly direction: Direction,
    private readonly source: net.Socket,
    private readonly dest: net.Socket,
    private readonly conn: Connection,
    private readonly rng: Rng,
  ) {}

  start(toxics: readonly ToxicSpec[]): void {
    for (const spec of toxics) this.addToxic(spec);
    this.source.on('data', this.onData);
    this.source.on('end', this.onEnd);
    this.source.on('close', this.onEnd);
    this.dest.on('drain', () => this.changed());
  }

  addToxic(spec: ToxicSpec): void {
    if (this.finished) return;
    this.stages.push(new ToxicStage(spec, this, this.rng));
  }

  updateToxic(spec: ToxicSpec): void {
    this.stages.find((s) => s.name === spec.name)?.update(spec);
  }

  async removeToxic(name: string): Promise<void> {
    const stage = this.stages.find((s) => s.name === name);
    if (!stage) return;
    await stage.remove();
    const i = this.stages.indexOf(stage);
    if (i >= 0) this.stages.splice(i, 1);
    stage.dispose();
  }

  /** Stops reading the source and sends EOF through the toxics. */
  endInput(): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    this.source.off('data', this.onData);
    this.push(null);
  }

  dispose(): void {
    this.finished = true;
    for (const s of this.stages) s.dispose();
  }

  private push(chunk: Chunk | null): void {
    const first = this.stages[0];
    if (first) first.push(chunk);
    else this.write(chunk);
    this.changed();
  }

  forward(stage: ToxicStage, chunk: Chunk | null): void {
    const i = this.stages.indexOf(stage);
    if (i < 0) return;
    const next = this.stages[i + 1];
    if (next) next.push(chunk);
    else this.write(chunk);
  }

  reset(): void {
    this.conn.reset();
  }

  changed(): void {
    if (this.inputEnded || this.finished) return;
    let pending = this.dest.writableLength;
    for (const s of this.stages) pending += s.pendingBytes;
    if (!this.paused && pending > HIGH_WATER) {
      this.paused = true;
      this.source.pause();
    } else if (this.paused && pending < LOW_WATER) {
      this.paused = false;
      this.source.resume();
    }
  }

  private write(chunk: Chunk | null): void {
    if (this.finished) return;
    if (chunk === null) {
      this.finished = true;
      this.conn.linkFinished(this);
      return;
    }
    if (this.dest.destroyed || this.dest.writableEnded) return;
    this.dest.write(chunk.data, () => this.changed());
  }
}

/** A client connection and its upstream connection. */
class Connection {
  readonly upstream: Link;
  readonly downstream: Link;
  private closed = false;

  constructor(
    readonly client: net.Socket,
    readonly server: net.Socket,
    private readonly onClosed: (c: Connection) => void,
    rng: Rng,
  ) {
    this.upstream = new Link('upstream', client, server, this, rng);
    this.downstream = new Link('downstream', server, client, this, rng);
  }

  start(upstreamToxics: readonly ToxicSpec[], downstreamToxics: readonly ToxicSpec[]): void {
    this.upstream.start(upstreamToxics);
    this.downstream.start(downstreamToxics);
  }

  link(direction: Direction): Link {
    return direction === 'upstream' ? this.upstream : this.downstream;
  }

  /**
   * A link delivered EOF: close its destination. As in Toxiproxy, the other
   * link's source is that same socket, so the other direction ends too (after
   * flushing what its toxics hold); once both are done the sockets go.
   */
  linkFinished(link: Link): void {
    const dest = link === this.upstream ? this.server : this.client;
    if (!dest.destroyed && !dest.writableEnded) dest.end();
    const other = link === this.upstream ? this.downstream : this.upstream;
    other.endInput();
    if (this.upstream.finished && this.downstream.finished) this.finish();
  }

  /** Closes both sockets now (proxy disabled, deleted or updated). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.upstream.dispose();
    this.downstream.dispose();
    this.client.destroy();
    this.server.destroy();
    this.onClosed(this);
  }

  /** Closes both sockets with a TCP reset (reset_peer). */
  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.upstream.dispose();
    this.downstream.dispose();
    for (const s of [this.client, this.server]) {
      try {
        if (!s.destroyed) s.resetAndDestroy();
      } catch {
        s.destroy();
      }
    }
    this.onClosed(this);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.upstream.dispose();
    this.downstream.dispose();
    for (const s of [this.client, this.server]) {
      // Let the FIN and any written data go out, then release the socket.
      if (s.writableFinished || s.destroyed) s.destroy();
      else s.once('finish', () => s.destroy());
      setTimeout(() => s.destroy(), 5000).unref();
    }
    this.onClosed(this);
  }
}

/** The proxy settings the API shows. */
export interface ProxyInfo {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
}

/** One proxy with its listener, connections and toxics. */
export class ToxicProxy {
  readonly name: string;
  listen: string;
  upstream: string;
  enabled = false;
  /** Toxics per stream, in the order they were added. */
  readonly toxics: Record<Direction, ToxicSpec[]> = { upstream: [], downstream: [] };

  private server: net.Server | undefined;
  private readonly connections = new Set<Connection>();
  private readonly pending = new Set<net.Socket>();

  constructor(
    name: string,
    listen: string,
    upstream: string,
    private readonly rng: Rng,
  ) {
    this.name = name;
    this.listen = listen;
    this.upstream = upstream;
  }

  info(): ProxyInfo {
    return { name: this.name, listen: this.listen, upstream: this.upstream, enabled: this.enabled };
  }

  /** All toxics, upstream ones first. */
  toxicList(): ToxicSpec[] {
    return [...this.toxics.upstream, ...this.toxics.downstream];
  }

  findToxic(name: string): ToxicSpec | undefined {
    return this.toxicList().find((t) => t.name === name);
  }

  /** Number of open client connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Starts listening; the bound address replaces `listen`. No-op when enabled. */
  async start(): Promise<void> {
    if (this.enabled) return;
    let host: string;
    let port: number;
    try {
      ({ host, port } = splitHostPort(this.listen));
    } catch (e) {
      throw new ProxyStartError(`listen tcp ${this.listen}: ${(e as Error).message}`);
    }
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (c) => this.accept(c));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => reject(new ProxyStartError(goListenError(this.listen, err)));
      server.once('error', onError);
      server.listen({ host: host === '' ? undefined : host, port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    server.on('error', () => undefined);
    const addr = server.address();
    if (addr && typeof addr === 'object') this.listen = formatAddress(addr);
    this.server = server;
    this.enabled = true;
  }

  /** Closes the listener and every open connection. No-op when disabled. */
  async stop(): Promise<void> {
    if (!this.enabled) return;
    this.enabled = false;
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => {
      if (server) server.close(() => resolve());
      else resolve();
    });
    for (const s of this.pending) s.destroy();
    this.pending.clear();
    for (const c of [...this.connections]) c.close();
    await closed;
  }

  /** Applies new settings the way Toxiproxy's Proxy.Update does. */
  async update(input: { listen: string; upstream: string; enabled: boolean }): Promise<void> {
    if (input.listen !== this.listen || input.upstream !== this.upstream) {
      await this.stop();
      this.listen = input.listen;
      this.upstream = input.upstream;
    }
    if (input.enabled !== this.enabled) {
      if (input.enabled) await this.start();
      else await this.stop();
    }
  }

  addToxic(spec: ToxicSpec): void {
    this.toxics[spec.stream].push(spec);
    for (const c of this.connections) c.link(spec.stream).addToxic(spec);
  }

  updateToxic(spec: ToxicSpec): void {
    const list = this.toxics[spec.stream];
    const i = list.findIndex((t) => t.name === spec.name);
    if (i >= 0) list[i] = spec;
    for (const c of this.connections) c.link(spec.stream).updateToxic(spec);
  }

  async removeToxic(name: string): Promise<void> {
    const spec = this.findToxic(name);
    if (!spec) return;
    const list = this.toxics[spec.stream];
    list.splice(list.indexOf(spec), 1);
    await Promise.all([...this.connections].map((c) => c.link(spec.stream).removeToxic(name)));
  }

  async resetToxics(): Promise<void> {
    for (const spec of this.toxicList()) await this.removeToxic(spec.name);
  }

  private accept(client: net.Socket): void {
    if (!this.enabled) {
      client.destroy();
      return;
    }
    client.on('error', () => undefined);
    let host: string;
    let port: number;
    try {
      ({ host, port } = splitHostPort(this.upstream));
    } catch {
      client.destroy();
      return;
    }
    this.pending.add(client);
    const server = net.connect({ host, port, allowHalfOpen: true });
    server.on('error', () => undefined);
    this.pending.add(server);
    const fail = (): void => {
      this.pending.delete(client);
      this.pending.delete(server);
      client.destroy();
      server.destroy();
    };
    server.once('error', fail);
    client.once('close', fail);
    server.once('connect', () => {
      server.off('error', fail);
      client.off('close', fail);
      this.pending.delete(client);
      this.pending.delete(server);
      if (!this.enabled || client.destroyed) {
        fail();
        return;
      }
      client.setNoDelay(true);
      server.setNoDelay(true);
      const conn = new Connection(client, server, (c) => this.connections.delete(c), this.rng);
      this.connections.add(conn);
      // A socket closed from the outside (error, reset) ends the connection.
      const onClose = (): void => {
        if (client.destroyed && server.destroyed) conn.close();
      };
      client.on('close', onClose);
      server.on('close', onClose);
      conn.start(this.toxics.upstream, this.toxics.downstream);
      client.resume();
    });
  }
}
