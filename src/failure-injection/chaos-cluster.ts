/**
 * A local cluster whose every link passes through its own fault proxy: each
 * coordinator-to-coordinator direction, each worker-to-coordinator link and
 * the client's link to each coordinator. The proxies are created and driven
 * only through `toxiproxy-node-client`, against the built-in server or any
 * real Toxiproxy given by URL. Processes learn the proxies through `--route`:
 * the cluster still advertises its real addresses, and each process dials the
 * proxy of its own link.
 */
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { AddressRoutes, TestudoClient } from '../client/index.js';
import { LocalCluster, freePort, memberStopTimeoutMs, type LocalClusterOptions, type LocalWorkerOptions } from '../cluster/local-cluster.js';
import { startToxiproxyServer, type ToxiproxyServer } from './toxiproxy/index.js';

/** One proxied link: traffic from `from` (a node, a worker or 'client') to coordinator `to`. */
export interface Link {
  readonly name: string;
  readonly kind: 'peer' | 'worker' | 'client';
  readonly from: string;
  readonly to: string;
  /** The coordinator's real address. */
  readonly upstream: string;
  /** The proxy's address, dialed instead. */
  readonly listen: string;
}

export interface ChaosClusterOptions extends Omit<LocalClusterOptions, 'memberArgs'> {
  readonly workers: number;
  readonly slots: number;
  /** A Toxiproxy to use instead of the built-in one (e.g. http://127.0.0.1:8474). */
  readonly toxiproxyUrl?: string;
  /** Seed of the built-in proxy's random draws. */
  readonly seed?: number;
  /** Start coordinators and workers with `--chaos-hooks` (slow fsync, flaky executors). Default true. */
  readonly chaosHooks?: boolean;
  /** Extra coordinator arguments (after the routes). */
  readonly memberArgs?: (id: string) => readonly string[];
  readonly worker?: LocalWorkerOptions;
  /** Extra environment for the coordinators only (e.g. a planted bug in a checker's test). */
  readonly coordinatorEnv?: Readonly<Record<string, string>>;
}

/** Longest a worker may take to serve HTTP after it was started. */
export const workerStartTimeoutMs = 30_000;

async function waitHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      async (res) => {
        await res.text();
        return res.ok;
      },
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Proxy names: Toxiproxy allows any, but these stay URL- and shell-safe. */
export function linkName(from: string, to: string): string {
  return `${from}_to_${to}`;
}

export class ChaosCluster {
  /** The last start of each worker, to wait on (workerReady). */
  private readonly workerStarts = new Map<string, Promise<void>>();
  readonly cluster: LocalCluster;
  readonly links = new Map<string, Link>();
  readonly workerIds: string[];
  private server: ToxiproxyServer | null = null;
  private toxiproxyClient: Toxiproxy | null = null;

  constructor(private readonly options: ChaosClusterOptions) {
    const hooks = options.chaosHooks ?? true;
    this.cluster = new LocalCluster({
      ...options,
      env: { ...options.env, ...options.coordinatorEnv },
      memberArgs: (id) => ['--route', this.routesFrom(id).toString(), ...(hooks ? ['--chaos-hooks'] : []), ...(options.memberArgs?.(id) ?? [])],
    });
    this.workerIds = Array.from({ length: options.workers }, (_, i) => `w${i + 1}`);
  }

  get toxiproxy(): Toxiproxy {
    if (this.toxiproxyClient === null) throw new Error('the chaos cluster is not started');
    return this.toxiproxyClient;
  }

  /** The proxy API's URL. */
  get toxiproxyUrl(): string {
    return this.options.toxiproxyUrl ?? this.server?.url ?? '';
  }

  coordinatorIds(): string[] {
    return [...this.cluster.members.keys()];
  }

  /** Starts the proxy server (unless given a URL), creates every link's proxy, then the coordinators and the workers. */
  async start(): Promise<void> {
    if (this.options.toxiproxyUrl === undefined) {
      this.server = await startToxiproxyServer({ host: '127.0.0.1', port: 0, ...(this.options.seed === undefined ? {} : { seed: this.options.seed }) });
    }
    this.toxiproxyClient = new Toxiproxy(this.toxiproxyUrl);
    await this.cluster.prepare();
    const ids = this.coordinatorIds();
    const plan: Array<Omit<Link, 'listen'>> = [];
    for (const to of ids) {
      const upstream = this.cluster.member(to).grpcAddress;
      for (const from of ids) if (from !== to) plan.push({ name: linkName(from, to), kind: 'peer', from, to, upstream });
      for (const w of this.workerIds) plan.push({ name: linkName(w, to), kind: 'worker', from: w, to, upstream });
      plan.push({ name: linkName('client', to), kind: 'client', from: 'client', to, upstream });
    }
    // Free ports picked here rather than listen port 0, so a disabled proxy comes back on the same address.
    const listens = await Promise.all(plan.map(async () => `127.0.0.1:${await freePort()}`));
    const created = await this.toxiproxy.populate(plan.map((l, i) => ({ name: l.name, listen: listens[i]!, upstream: l.upstream, enabled: true })));
    plan.forEach((l, i) => this.links.set(l.name, { ...l, listen: created[l.name]?.listen ?? listens[i]! }));
    await this.cluster.start();
    // Side by side: each worker's boot is mostly its own CPU and waiting on
    // the coordinators, so starting them in turn only adds up their waits.
    await Promise.all(this.workerIds.map((w) => this.startWorker(w)));
  }

  /** Starts (or restarts) a worker with routes through its links; resolves once its HTTP server answers. */
  startWorker(id: string): Promise<void> {
    const started = this.spawnWorker(id);
    this.workerStarts.set(id, started);
    return started;
  }

  /**
   * Resolves once a worker being (re)started answers on its HTTP port, at
   * once otherwise: a fault set through the worker's chaos hooks must not
   * race the restart that healed an earlier crash.
   */
  async workerReady(id: string): Promise<void> {
    await this.workerStarts.get(id)?.catch(() => undefined);
  }

  private async spawnWorker(id: string): Promise<void> {
    const hooks = this.options.chaosHooks ?? true;
    const base = this.options.worker ?? {};
    await this.cluster.startWorker(id, {
      slots: this.options.slots,
      httpPort: 0,
      ...base,
      extraArgs: ['--route', this.routesFrom(id).toString(), ...(hooks ? ['--chaos-hooks'] : []), ...(base.extraArgs ?? [])],
    });
    const http = this.cluster.worker(id).httpAddress;
    if (http !== null) await waitHttp(`http://${http}/livez`, workerStartTimeoutMs);
  }

  /** The routes a node, a worker or 'client' uses: each coordinator's real address → the proxy of that link. */
  routesFrom(from: string): AddressRoutes {
    const table = new Map<string, string>();
    for (const link of this.links.values()) if (link.from === from) table.set(link.upstream, link.listen);
    return AddressRoutes.from(table);
  }

  /** A client whose link goes through the client's proxies. */
  client(options: { callTimeoutMs?: number; totalTimeoutMs?: number } = {}): TestudoClient {
    return new TestudoClient({
      endpoints: this.coordinatorIds().map((id) => this.cluster.member(id).grpcAddress),
      routes: this.routesFrom('client'),
      callTimeoutMs: options.callTimeoutMs ?? 2_000,
      totalTimeoutMs: options.totalTimeoutMs ?? 30_000,
    });
  }

  /** A client that dials the coordinators directly: the harness's own view, unaffected by network faults. */
  directClient(options: { callTimeoutMs?: number; totalTimeoutMs?: number } = {}): TestudoClient {
    return new TestudoClient({
      endpoints: this.coordinatorIds().map((id) => this.cluster.member(id).grpcAddress),
      callTimeoutMs: options.callTimeoutMs ?? 2_000,
      totalTimeoutMs: options.totalTimeoutMs ?? 30_000,
    });
  }

  /** SIGTERM, then SIGKILL if the worker has not exited after memberStopTimeoutMs. */
  private async stopWorkerBounded(id: string): Promise<void> {
    if (!this.cluster.workers.has(id)) return;
    const timer = setTimeout(() => void this.cluster.killWorker(id, 'SIGKILL'), memberStopTimeoutMs);
    try {
      await this.cluster.killWorker(id, 'SIGTERM');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Links matching a predicate. */
  select(predicate: (link: Link) => boolean): Link[] {
    return [...this.links.values()].filter(predicate);
  }

  /** The proxy of a link, through toxiproxy-node-client. */
  async proxy(name: string): Promise<Proxy> {
    return this.toxiproxy.get(name);
  }

  /** Enables or disables links (disabling closes their open connections). */
  async setEnabled(links: readonly Link[], enabled: boolean): Promise<void> {
    for (const link of links) {
      const proxy = await this.proxy(link.name);
      if (proxy.enabled !== enabled) await proxy.update({ enabled, listen: proxy.listen, upstream: proxy.upstream });
    }
  }

  /** Heals the network: every proxy enabled, every toxic removed (Toxiproxy's reset). */
  async resetNetwork(): Promise<void> {
    await this.toxiproxy.reset();
  }

  /**
   * Stops workers, coordinators and (when built in) the proxy server. With
   * `discard` (the run's checks are read; the cluster will not run again)
   * the coordinators are killed together instead of stopped gracefully one
   * at a time, which only matters to a cluster that lives on; the workers
   * still stop gracefully, so that no test process outlives them.
   */
  async stop(options: { discard?: boolean } = {}): Promise<void> {
    try {
      if (options.discard === true) {
        await Promise.all(this.workerIds.map((id) => this.stopWorkerBounded(id)));
        await Promise.all(this.coordinatorIds().map((id) => this.cluster.kill(id, 'SIGKILL')));
      }
      await this.cluster.stop();
    } finally {
      if (this.toxiproxyClient !== null && this.options.toxiproxyUrl !== undefined) {
        // A shared Toxiproxy keeps running: remove what this run created.
        for (const name of this.links.keys()) await (await this.proxy(name).catch(() => null))?.remove().catch(() => undefined);
      }
      await this.server?.close();
      this.server = null;
    }
  }
}
