import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, openSync, closeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../cluster/ports.js';
import { EtcdClient, type EtcdStatus } from './etcd-client.js';

/**
 * A 3-member etcd cluster of child processes on 127.0.0.1, for the
 * comparison benches: each member on ports picked free, in its own
 * temporary data directory, plain HTTP, etcd's defaults otherwise (fsync
 * on, 100 ms heartbeat, 1 s election timeout). Members can be killed and
 * started again on the same ports and data.
 */

/** What to install when no etcd binary is found (Debian 12 ships etcd 3.4). */
export const etcdInstallHint = 'apt-get install etcd-server';

/** How long to wait for a started cluster to agree on a leader. */
export const etcdLeaderWaitMs = 30_000;
/** Poll interval while waiting on the cluster. */
const pollIntervalMs = 20;

/** No etcd binary where one was looked for. */
export class EtcdMissingError extends Error {
  override readonly name = 'EtcdMissingError';
}

/**
 * The etcd binary to run: `given` (--etcd-bin) if executable, else `etcd`
 * on PATH. Throws EtcdMissingError naming the package to install.
 */
export function findEtcdBinary(given?: string): string {
  const candidates = given !== undefined ? [given] : (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(d, 'etcd'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there or not executable: look further
    }
  }
  const where = given !== undefined ? `at ${given}` : 'on PATH';
  throw new EtcdMissingError(`no etcd binary ${where}: install etcd 3.4 (${etcdInstallHint}) or give --etcd-bin PATH`);
}

export interface EtcdMember {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** etcd's member id (decimal), known once the member has answered Status. */
  memberId: string;
  child: ChildProcess | null;
}

export interface EtcdClusterOptions {
  readonly binary: string;
  readonly members: number;
}

export class EtcdCluster {
  readonly members: EtcdMember[] = [];
  private root: string | null = null;
  private readonly binary: string;
  private readonly size: number;

  constructor(options: EtcdClusterOptions) {
    assert(options.members >= 1, 'an etcd cluster needs at least one member');
    this.binary = options.binary;
    this.size = options.members;
  }

  /** Client endpoints (host:port), in member order. */
  endpoints(): string[] {
    return this.members.map((m) => endpointOf(m));
  }

  /** Starts every member and waits until they all name the same leader. */
  async start(): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'testudo-etcd-'));
    for (let i = 1; i <= this.size; i++) {
      const name = `e${i}`;
      this.members.push({ name, clientPort: await freePort(), peerPort: await freePort(), dataDir: join(this.root, name), memberId: '', child: null });
    }
    for (const m of this.members) this.spawnMember(m);
    await this.waitForLeader();
  }

  /**
   * Waits until every running member answers and names the same leader;
   * resolves with that leader's member and every running member's status.
   */
  async waitForLeader(timeoutMs = etcdLeaderWaitMs): Promise<{ leader: EtcdMember; statuses: Map<string, EtcdStatus> }> {
    const client = new EtcdClient(this.endpoints());
    const deadline = Date.now() + timeoutMs;
    let last = 'no member answered';
    try {
      for (;;) {
        const running = this.members.filter((m) => m.child !== null);
        const statuses = new Map<string, EtcdStatus>();
        for (const m of running) {
          const status = await client.status(endpointOf(m), 500).catch((error: Error) => {
            last = error.message;
            return null;
          });
          if (status === null) break;
          m.memberId = status.header.memberId;
          statuses.set(m.name, status);
        }
        const leaders = new Set([...statuses.values()].map((s) => s.leader));
        const leader = this.members.find((m) => m.memberId !== '' && leaders.has(m.memberId));
        if (statuses.size === running.length && leaders.size === 1 && leader !== undefined && leader.child !== null) return { leader, statuses };
        if (Date.now() > deadline) throw new Error(`etcd: no leader all ${running.length} running members agree on within ${timeoutMs} ms (${last})`);
        await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
      }
    } finally {
      client.close();
    }
  }

  /** Process ids of the running members, by name. */
  pids(): Map<string, number> {
    const pids = new Map<string, number>();
    for (const m of this.members) if (m.child?.pid !== undefined) pids.set(m.name, m.child.pid);
    return pids;
  }

  /** SIGKILLs a member and waits for its exit. */
  async kill(name: string): Promise<void> {
    const m = this.member(name);
    const child = m.child;
    assert(child !== null, `etcd member ${name} is not running`);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    m.child = null;
  }

  /** Starts a stopped member again on its ports and data (etcd rejoins from its WAL). */
  restart(name: string): void {
    const m = this.member(name);
    assert(m.child === null, `etcd member ${name} is still running`);
    this.spawnMember(m);
  }

  /** Stops every member and removes the data. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => stopChild(m)));
    if (this.root !== null) await rm(this.root, { recursive: true, force: true });
    this.root = null;
  }

  member(name: string): EtcdMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no etcd member ${name}`);
    return m;
  }

  private spawnMember(m: EtcdMember): void {
    const peers = this.members.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=http://127.0.0.1:${m.clientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${m.clientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-cluster=${peers}`,
      '--initial-cluster-token=testudo-bench',
      // Ignored once the data directory holds a WAL (a restart rejoins the cluster it was in).
      '--initial-cluster-state=new',
      '--logger=zap',
      '--log-level=warn',
    ];
    const log = openSync(join(this.root ?? tmpdir(), `${m.name}.log`), 'a');
    try {
      m.child = spawn(this.binary, args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const child = m.child;
    child.once('exit', () => {
      if (m.child === child) m.child = null;
    });
  }
}

function endpointOf(m: EtcdMember): string {
  return `127.0.0.1:${m.clientPort}`;
}

/**
 * SIGKILL: the data is removed next, and etcd's graceful stop (SIGTERM) of
 * every member at once waits on peers that are stopping too (about 5 s each).
 */
async function stopChild(m: EtcdMember): Promise<void> {
  const child = m.child;
  if (child === null || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  m.child = null;
}
