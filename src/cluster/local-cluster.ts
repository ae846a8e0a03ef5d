import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How a LocalCluster starts and places its coordinators. */
export interface LocalClusterOptions {
  /** Number of founding coordinators (3 or 5 for a real cluster). */
  readonly coordinators: number;
  /** Each member gets `<dataDir>/<id>` (Raft data, cluster.json, coordinator.log). */
  readonly dataDir: string;
  /** First gRPC port (n1 gets it, n2 the next…); 0 picks free ports. */
  readonly basePort?: number;
  /** First HTTP port; 0 picks free ports; null disables HTTP. */
  readonly baseHttpPort?: number | null;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEntries?: number;
  readonly snapshotCatchUpEntries?: number;
  readonly logLevel?: string;
  /** Extra environment for every coordinator. */
  readonly env?: Readonly<Record<string, string>>;
}

export interface LocalMember {
  readonly id: string;
  readonly grpcAddress: string;
  readonly httpAddress: string | null;
  readonly dataDir: string;
  readonly logPath: string;
  child: ChildProcess | null;
  paused: boolean;
}

/** Longest a member gets to exit after SIGTERM before it is killed. */
export const memberStopTimeoutMs = 10_000;

/**
 * A cluster of coordinator processes on 127.0.0.1, each a real `testudo
 * coordinator` child with its own data directory: what `testudo up`, the
 * benchmarks, the failover drill and the integration tests run. Children get
 * an IPC channel and exit when it closes, so they never outlive this process.
 */
export class LocalCluster {
  readonly members = new Map<string, LocalMember>();
  private readonly opts: LocalClusterOptions;
  private readonly logs = new Map<string, WriteStream>();
  private readonly exits = new Map<string, Promise<number | null>>();

  constructor(options: LocalClusterOptions) {
    if (!Number.isInteger(options.coordinators) || options.coordinators < 1 || options.coordinators > 9) {
      throw new RangeError(`coordinators must be 1..9, got ${options.coordinators}`);
    }
    this.opts = options;
  }

  /** Picks ports, then starts every founding member. */
  async start(): Promise<void> {
    const ids = Array.from({ length: this.opts.coordinators }, (_, i) => `n${i + 1}`);
    for (const [i, id] of ids.entries()) {
      const grpcPort = this.opts.basePort ? this.opts.basePort + i : await freePort();
      const httpPort = this.opts.baseHttpPort === null ? null : this.opts.baseHttpPort ? this.opts.baseHttpPort + i : await freePort();
      const dataDir = join(this.opts.dataDir, id);
      this.members.set(id, {
        id,
        grpcAddress: `127.0.0.1:${grpcPort}`,
        httpAddress: httpPort === null ? null : `127.0.0.1:${httpPort}`,
        dataDir,
        logPath: join(dataDir, 'coordinator.log'),
        child: null,
        paused: false,
      });
    }
    for (const id of ids) await this.launch(id, []);
  }

  endpoints(): string[] {
    return [...this.members.values()].filter((m) => m.child !== null).map((m) => m.grpcAddress);
  }

  member(id: string): LocalMember {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id} in this local cluster`);
    return m;
  }

  /** The `--peers` value of the founding members. */
  peersFlag(): string {
    return [...this.members.values()]
      .filter((m) => /^n\d+$/.test(m.id) && Number(m.id.slice(1)) <= this.opts.coordinators)
      .map((m) => `${m.id}=${m.grpcAddress}`)
      .join(',');
  }

  /** Sends `signal` (SIGKILL by default) and, for fatal signals, waits for the exit. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const m = this.member(id);
    if (m.child === null) return;
    if (m.paused) this.resume(id);
    m.child.kill(signal);
    await this.exits.get(id);
  }

  pause(id: string): void {
    const m = this.member(id);
    if (m.child === null || m.paused) return;
    m.child.kill('SIGSTOP');
    m.paused = true;
  }

  resume(id: string): void {
    const m = this.member(id);
    if (m.child === null || !m.paused) return;
    m.child.kill('SIGCONT');
    m.paused = false;
  }

  /** Starts a stopped member again from its data directory. */
  async restart(id: string): Promise<void> {
    const m = this.member(id);
    if (m.child !== null) throw new Error(`${id} is still running`);
    await this.launch(id, []);
  }

  /** Starts a new, empty member that waits to be added (`testudo cluster add-member`). */
  async startJoiner(id: string, clusterId: string): Promise<LocalMember> {
    if (this.members.has(id)) throw new Error(`${id} already exists`);
    const dataDir = join(this.opts.dataDir, id);
    const httpPort = this.opts.baseHttpPort === null ? null : await freePort();
    this.members.set(id, {
      id,
      grpcAddress: `127.0.0.1:${await freePort()}`,
      httpAddress: httpPort === null ? null : `127.0.0.1:${httpPort}`,
      dataDir,
      logPath: join(dataDir, 'coordinator.log'),
      child: null,
      paused: false,
    });
    const founders = [...this.members.values()].filter((m) => m.id !== id).map((m) => m.grpcAddress);
    await this.launch(id, ['--join', founders.join(','), '--cluster-id', clusterId]);
    return this.member(id);
  }

  /** Exit code (or null after a signal) of the member's last process. */
  exited(id: string): Promise<number | null> | undefined {
    return this.exits.get(id);
  }

  /** Stops every member: SIGTERM, then SIGKILL after `memberStopTimeoutMs`. */
  async stop(): Promise<void> {
    const running = [...this.members.values()].filter((m) => m.child !== null);
    for (const m of running) {
      if (m.paused) this.resume(m.id);
      m.child!.kill('SIGTERM');
    }
    await Promise.all(
      running.map(async (m) => {
        const exit = this.exits.get(m.id);
        const timer = setTimeout(() => m.child?.kill('SIGKILL'), memberStopTimeoutMs);
        await exit;
        clearTimeout(timer);
      }),
    );
    await Promise.all([...this.logs.values()].map((s) => new Promise((resolve) => s.end(resolve))));
    this.logs.clear();
  }

  private async launch(id: string, extra: string[]): Promise<void> {
    const m = this.member(id);
    await mkdir(m.dataDir, { recursive: true });
    const args = [
      'coordinator',
      '--id',
      id,
      '--listen',
      m.grpcAddress,
      '--data-dir',
      m.dataDir,
      '--exit-with-parent',
      ...(m.httpAddress === null ? [] : ['--http', m.httpAddress]),
      ...(extra.includes('--join') ? [] : ['--peers', this.peersFlag()]),
      ...optional('--tick-ms', this.opts.tickMs),
      ...optional('--election-ticks', this.opts.electionTicks),
      ...optional('--snapshot-entries', this.opts.snapshotEntries),
      ...optional('--snapshot-catch-up-entries', this.opts.snapshotCatchUpEntries),
      ...extra,
    ];
    const [command, prefix] = testudoCommand();
    // Extra Node flags for the coordinators only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them.
    const nodeArgs = (process.env.TESTUDO_COORDINATOR_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    let log = this.logs.get(id);
    if (log === undefined) {
      log = createWriteStream(m.logPath, { flags: 'a' });
      this.logs.set(id, log);
    }
    const child = spawn(command, [...nodeArgs, ...prefix, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: this.opts.logLevel ?? process.env.LOG_LEVEL ?? 'info', ...this.opts.env },
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    m.child = child;
    m.paused = false;
    this.exits.set(
      id,
      new Promise((resolve) => {
        child.once('exit', (code) => {
          if (m.child === child) m.child = null;
          resolve(code);
        });
      }),
    );
  }
}

function optional(flag: string, value: number | undefined): string[] {
  return value === undefined ? [] : [flag, String(value)];
}

/**
 * How to run the `testudo` CLI as a child: the built JavaScript when this
 * module is built, else the TypeScript source through tsx (tests, `npm start`).
 */
export function testudoCommand(): [string, string[]] {
  const here = fileURLToPath(import.meta.url);
  const cliDir = join(dirname(dirname(here)), 'cli');
  if (here.endsWith('.ts')) return [process.execPath, ['--import', 'tsx', join(cliDir, 'main.ts')]];
  return [process.execPath, [join(cliDir, 'main.js')]];
}

/** A port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
