import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { deriveClusterId } from '../coordinator/config.js';
import { canBind, freePort } from './ports.js';

/** How a LocalCluster starts and places its coordinators. */
export interface LocalClusterOptions {
  /** Number of founding coordinators (3 or 5 for a real cluster). */
  readonly coordinators: number;
  /** Each member gets `<dataDir>/<id>` (Raft data, cluster.json, coordinator.log). */
  readonly dataDir: string;
  /** First gRPC port (n1 gets it, n2 the next…); 0 picks free ports. A fixed port that is taken fails `prepare` (PortInUseError). */
  readonly basePort?: number;
  /** First HTTP port; 0 picks free ports; null disables HTTP. */
  readonly baseHttpPort?: number | null;
  /**
   * The cluster id every member and worker is started with. Default: the id
   * a reused data directory was founded with (`<dataDir>/<id>/cluster.json`),
   * else a new random one, so that no two generated clusters share an id
   * (an id derived from the peer list would be the same for every cluster on
   * the same ports). Null: the founders derive it from `--peers`, as in a
   * cluster started by hand without `--cluster-id`.
   */
  readonly clusterId?: string | null;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEntries?: number;
  readonly snapshotCatchUpEntries?: number;
  readonly snapshotBytes?: number;
  readonly logLevel?: string;
  /** Extra environment for every coordinator. */
  readonly env?: Readonly<Record<string, string>>;
  readonly workerTtlMs?: number;
  readonly workerGraceMs?: number;
  readonly unschedulableTimeoutMs?: number;
  /** Extra `testudo coordinator` arguments per member (e.g. `--route`, `--chaos-hooks`). */
  readonly memberArgs?: (id: string) => readonly string[];
}

/** How `startWorker` runs one worker process. */
export interface LocalWorkerOptions {
  readonly slots?: number;
  /** key=value,… */
  readonly labels?: string;
  readonly executor?: 'process' | 'noop';
  /** HTTP port for /logs, /metrics; 0 or absent picks a free one; null disables. */
  readonly httpPort?: number | null;
  readonly killGraceMs?: number;
  readonly logLevel?: string;
  readonly extraArgs?: readonly string[];
}

export interface LocalWorker {
  readonly id: string;
  readonly workDir: string;
  readonly httpAddress: string | null;
  readonly logPath: string;
  readonly options: LocalWorkerOptions;
  child: ChildProcess | null;
  paused: boolean;
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
  readonly workers = new Map<string, LocalWorker>();
  private readonly workerExits = new Map<string, Promise<number | null>>();
  private readonly opts: LocalClusterOptions;
  private readonly logs = new Map<string, WriteStream>();
  private readonly exits = new Map<string, Promise<number | null>>();
  private clusterIdValue = '';
  /** False when the founders derive the id from `--peers` themselves (`clusterId: null`). */
  private passClusterId = true;

  constructor(options: LocalClusterOptions) {
    if (!Number.isInteger(options.coordinators) || options.coordinators < 1 || options.coordinators > 9) {
      throw new RangeError(`coordinators must be 1..9, got ${options.coordinators}`);
    }
    this.opts = options;
  }

  /** Picks ports, then starts every founding member. */
  async start(): Promise<void> {
    await this.prepare();
    for (const m of [...this.members.values()]) await this.launch(m.id, []);
  }

  /**
   * Picks the founding members' ports and paths without starting them (a
   * chaos run puts fault proxies in front of the addresses first). Idempotent.
   */
  async prepare(): Promise<void> {
    if (this.members.size > 0) return;
    const ids = Array.from({ length: this.opts.coordinators }, (_, i) => `n${i + 1}`);
    await this.refuseTakenPorts(ids);
    const chosen = this.opts.clusterId === null ? null : (this.opts.clusterId ?? (await foundedClusterId(this.opts.dataDir, ids)) ?? `local-${randomBytes(8).toString('hex')}`);
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
    this.passClusterId = chosen !== null;
    this.clusterIdValue = chosen ?? deriveClusterId(new Map([...this.members.values()].map((m) => [m.id, m.grpcAddress])));
  }

  /**
   * Fixed ports are checked before anything starts: a coordinator that
   * cannot bind would leave the others (and the workers) talking to
   * whatever holds its address.
   */
  private async refuseTakenPorts(ids: readonly string[]): Promise<void> {
    const { basePort, baseHttpPort } = this.opts;
    for (const [i, id] of ids.entries()) {
      if (basePort) await refuseTakenPort(basePort + i, `${id}'s gRPC port`);
      if (baseHttpPort) await refuseTakenPort(baseHttpPort + i, `${id}'s HTTP port`);
    }
  }

  /** The id every member and worker of this cluster checks (set by `prepare`). */
  get clusterId(): string {
    if (this.clusterIdValue === '') throw new Error('the local cluster has no id before prepare()');
    return this.clusterIdValue;
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

  /** Stops a member with SIGSTOP; resolves once the kernel shows it stopped. */
  async pause(id: string): Promise<void> {
    const m = this.member(id);
    if (m.child === null || m.paused) return;
    m.child.kill('SIGSTOP');
    m.paused = true;
    await stoppedByKernel(m.child.pid);
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

  /**
   * Starts a new, empty member that waits to be added (`testudo cluster
   * add-member`). Without `clusterId` it learns the id from its join addresses.
   */
  async startJoiner(id: string, clusterId?: string): Promise<LocalMember> {
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
    await this.launch(id, ['--join', founders.join(','), ...(clusterId === undefined ? [] : ['--cluster-id', clusterId])]);
    return this.member(id);
  }

  /** Exit code (or null after a signal) of the member's last process. */
  exited(id: string): Promise<number | null> | undefined {
    return this.exits.get(id);
  }

  // -------------------------------------------------------------- workers

  /**
   * Starts a worker process (`testudo worker`) dialing every coordinator,
   * with its work dir at `<dataDir>/workers/<id>` (kept across restarts, so
   * its id and outbox survive).
   */
  async startWorker(id: string, options: LocalWorkerOptions = {}): Promise<LocalWorker> {
    if (this.workers.get(id)?.child) throw new Error(`worker ${id} is still running`);
    const known = this.workers.get(id);
    const workDir = join(this.opts.dataDir, 'workers', id);
    await mkdir(workDir, { recursive: true });
    const httpPort = options.httpPort === null ? null : options.httpPort !== undefined && options.httpPort !== 0 ? options.httpPort : await freePort();
    const worker: LocalWorker = known ?? {
      id,
      workDir,
      httpAddress: httpPort === null ? null : `127.0.0.1:${httpPort}`,
      logPath: join(workDir, 'worker.log'),
      options,
      child: null,
      paused: false,
    };
    this.workers.set(id, worker);
    const o = worker.options;
    const args = [
      'worker',
      '--coordinators',
      [...this.members.values()].map((m) => m.grpcAddress).join(','),
      '--work-dir',
      workDir,
      '--name',
      id,
      '--slots',
      String(o.slots ?? 2),
      '--exit-with-parent',
      '--cluster-id',
      this.clusterId,
      ...(worker.httpAddress === null ? [] : ['--http', worker.httpAddress]),
      ...(o.labels === undefined ? [] : ['--labels', o.labels]),
      ...(o.executor === undefined ? [] : ['--executor', o.executor]),
      ...(o.killGraceMs === undefined ? [] : ['--kill-grace-ms', String(o.killGraceMs)]),
      ...(o.extraArgs ?? []),
    ];
    const child = this.spawnTestudo(`worker:${id}`, worker.logPath, args, o.logLevel);
    worker.child = child;
    worker.paused = false;
    this.workerExits.set(
      id,
      new Promise((resolve) => {
        child.once('exit', (code) => {
          if (worker.child === child) worker.child = null;
          if (code !== null && code !== 0) void reportFailedExit(`worker ${id}`, code, worker.logPath);
          resolve(code);
        });
      }),
    );
    return worker;
  }

  worker(id: string): LocalWorker {
    const w = this.workers.get(id);
    if (w === undefined) throw new Error(`no worker ${id} in this local cluster`);
    return w;
  }

  /** Sends `signal` (SIGKILL by default) to a worker's process group leader and, for fatal signals, waits. */
  async killWorker(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const w = this.worker(id);
    if (w.child === null) return;
    if (w.paused && signal !== 'SIGSTOP') this.resumeWorker(id);
    w.child.kill(signal);
    await this.workerExits.get(id);
  }

  /** Stops a worker with SIGSTOP; resolves once the kernel shows it stopped. */
  async pauseWorker(id: string): Promise<void> {
    const w = this.worker(id);
    if (w.child === null || w.paused) return;
    w.child.kill('SIGSTOP');
    w.paused = true;
    await stoppedByKernel(w.child.pid);
  }

  resumeWorker(id: string): void {
    const w = this.worker(id);
    if (w.child === null || !w.paused) return;
    w.child.kill('SIGCONT');
    w.paused = false;
  }

  workerExited(id: string): Promise<number | null> | undefined {
    return this.workerExits.get(id);
  }

  /** Stops every worker, then every member: SIGTERM, then SIGKILL after `memberStopTimeoutMs`. */
  async stop(): Promise<void> {
    const workers = [...this.workers.values()].filter((w) => w.child !== null);
    for (const w of workers) {
      if (w.paused) this.resumeWorker(w.id);
      w.child!.kill('SIGTERM');
    }
    await Promise.all(
      workers.map(async (w) => {
        const timer = setTimeout(() => w.child?.kill('SIGKILL'), memberStopTimeoutMs);
        await this.workerExits.get(w.id);
        clearTimeout(timer);
      }),
    );
    // One at a time: a stopping leader hands leadership to a member still
    // running instead of waiting out a transfer to one that is stopping too.
    const running = [...this.members.values()].filter((m) => m.child !== null);
    for (const m of running) {
      if (m.paused) this.resume(m.id);
      m.child?.kill('SIGTERM');
      const timer = setTimeout(() => m.child?.kill('SIGKILL'), memberStopTimeoutMs);
      await this.exits.get(m.id);
      clearTimeout(timer);
    }
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
      ...(extra.includes('--join') ? [] : ['--peers', this.peersFlag(), ...(this.passClusterId ? ['--cluster-id', this.clusterId] : [])]),
      ...optional('--tick-ms', this.opts.tickMs),
      ...optional('--election-ticks', this.opts.electionTicks),
      ...optional('--snapshot-entries', this.opts.snapshotEntries),
      ...optional('--snapshot-catch-up-entries', this.opts.snapshotCatchUpEntries),
      ...optional('--snapshot-bytes', this.opts.snapshotBytes),
      ...optional('--worker-ttl-ms', this.opts.workerTtlMs),
      ...optional('--worker-grace-ms', this.opts.workerGraceMs),
      ...optional('--unschedulable-timeout-ms', this.opts.unschedulableTimeoutMs),
      ...(this.opts.memberArgs?.(id) ?? []),
      ...extra,
    ];
    const child = this.spawnTestudo(id, m.logPath, args, this.opts.logLevel);
    m.child = child;
    m.paused = false;
    this.exits.set(
      id,
      new Promise((resolve) => {
        child.once('exit', (code) => {
          if (m.child === child) m.child = null;
          if (code !== null && code !== 0) void reportFailedExit(`coordinator ${id}`, code, m.logPath);
          resolve(code);
        });
      }),
    );
  }

  private spawnTestudo(key: string, logPath: string, args: string[], logLevel: string | undefined): ChildProcess {
    const [command, prefix] = testudoCommand();
    // Extra Node flags, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the coordinators or the workers.
    const variable = key.startsWith('worker:') ? process.env.TESTUDO_WORKER_NODE_ARGS : process.env.TESTUDO_COORDINATOR_NODE_ARGS;
    const nodeArgs = (variable ?? '').split(' ').filter((a) => a !== '');
    let log = this.logs.get(key);
    if (log === undefined) {
      log = createWriteStream(logPath, { flags: 'a' });
      this.logs.set(key, log);
    }
    const child = spawn(command, [...nodeArgs, ...prefix, ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: logLevel ?? process.env.LOG_LEVEL ?? 'info', ...this.opts.env },
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    return child;
  }
}

/** Polls of /proc after a SIGSTOP before giving up on seeing the process stopped. */
const stopPollsMax = 200;
const stopPollIntervalMs = 10;

/**
 * Signals are delivered asynchronously: a process is still running for a
 * moment after kill(SIGSTOP) returns. Waits until /proc shows it stopped
 * ('T'), or gone; throws if it is still running after the bound.
 */
async function stoppedByKernel(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  for (let i = 0; i < stopPollsMax; i++) {
    let stat: string;
    try {
      stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return; // gone, or no /proc on this system
    }
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    if (state === 'T' || state === 't' || state === 'Z' || state === 'X') return;
    await new Promise((resolve) => setTimeout(resolve, stopPollIntervalMs));
  }
  throw new Error(`process ${pid} still running ${stopPollsMax * stopPollIntervalMs} ms after SIGSTOP`);
}

/** Lines of a process's log shown when it exits with an error. */
const failedExitLogLines = 8;

/**
 * A coordinator or worker that exits by itself with an error (not killed by a
 * signal, not stopped cleanly) says so on stderr with the end of its log:
 * without it a member that refused to start again looks like a network fault.
 */
async function reportFailedExit(what: string, code: number, logPath: string): Promise<void> {
  const text = await readFile(logPath, 'utf8').catch(() => '');
  const tail = text.trimEnd().split('\n').slice(-failedExitLogLines).join('\n');
  process.stderr.write(`local cluster: ${what} exited with code ${code} (log ${logPath})${tail === '' ? '' : `; its last lines:\n${tail}`}\n`);
}

function optional(flag: string, value: number | undefined): string[] {
  return value === undefined ? [] : [flag, String(value)];
}

/** A fixed port a local cluster was asked to use is taken. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  readonly port: number;

  constructor(port: number, what: string) {
    super(`127.0.0.1:${port} (${what}) is already in use: stop what holds it, choose other ports, or pass 0 to pick free ones`);
    this.port = port;
  }
}

async function refuseTakenPort(port: number, what: string): Promise<void> {
  if (!(await canBind(port))) throw new PortInUseError(port, what);
}

/** The cluster id a member's cluster.json under `dataDir` holds, if any was founded there. */
async function foundedClusterId(dataDir: string, ids: readonly string[]): Promise<string | undefined> {
  for (const id of ids) {
    let text: string;
    try {
      text = await readFile(join(dataDir, id, 'cluster.json'), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    // A damaged file is the coordinator's to report (it refuses to start, and the start fails with its exit).
    try {
      const clusterId = (JSON.parse(text) as { clusterId?: unknown }).clusterId;
      if (typeof clusterId === 'string' && clusterId !== '') return clusterId;
    } catch {
      continue;
    }
  }
  return undefined;
}

/**
 * How to run the `testudo` CLI as a child: the built JavaScript when this
 * module is built, else the TypeScript source through tsx (tests, `npm start`).
 * A test run whose build is current names the built CLI in TESTUDO_BUILT_CLI
 * (vitest.config.ts): the same code, without compiling it in every child.
 */
export function testudoCommand(): [string, string[]] {
  const here = fileURLToPath(import.meta.url);
  const cliDir = join(dirname(dirname(here)), 'cli');
  if (!here.endsWith('.ts')) return [process.execPath, [join(cliDir, 'main.js')]];
  const built = process.env.TESTUDO_BUILT_CLI;
  if (built !== undefined && built !== '') return [process.execPath, [built]];
  return [process.execPath, ['--import', 'tsx', join(cliDir, 'main.ts')]];
}

export { freePort, freePortRange, freePortTriesMax } from './ports.js';
