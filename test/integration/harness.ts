import { execFile } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestudoClient } from '../../src/client/index.js';
import { LocalCluster, testudoCommand, type LocalClusterOptions } from '../../src/cluster/local-cluster.js';

/** A LocalCluster of real coordinator processes in a fresh temporary directory. */
export async function startCluster(options: Partial<LocalClusterOptions> = {}): Promise<{ cluster: LocalCluster; dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-it-'));
  const cluster = new LocalCluster({ coordinators: 3, dataDir: dir, baseHttpPort: 0, logLevel: 'info', ...options });
  await cluster.start();
  return {
    cluster,
    dir,
    cleanup: async () => {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function clientFor(cluster: LocalCluster, overrides: Partial<ConstructorParameters<typeof TestudoClient>[0]> = {}): TestudoClient {
  return new TestudoClient({
    endpoints: [...cluster.members.values()].map((m) => m.grpcAddress),
    callTimeoutMs: 1000,
    totalTimeoutMs: 20_000,
    retry: { attemptsMax: 500, backoffBaseMs: 10, backoffMaxMs: 100 },
    ...overrides,
  });
}

/** Polls `probe` every 20 ms until it returns a value that is not undefined/false; bounded. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === null ? '' : `: ${String(lastError)}`}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The leader every reachable member agrees on, once they all agree. */
export async function stableLeader(client: TestudoClient, expectMembers?: number): Promise<{ leaderId: string; term: number }> {
  return waitFor('a leader all members agree on', async () => {
    const status = await client.clusterStatus();
    const reachable = status.members.filter((m) => m.reachable);
    const leader = reachable.find((m) => m.role === 'leader');
    if (leader === undefined) return undefined;
    if (expectMembers !== undefined && reachable.length < expectMembers) return undefined;
    if (!reachable.every((m) => m.leaderId === leader.id)) return undefined;
    return { leaderId: leader.id, term: leader.term };
  });
}

/** Every (term → leaders) pair the coordinators logged; a safe cluster never has two leaders in a term. */
export async function leadersByTerm(cluster: LocalCluster): Promise<Map<number, Set<string>>> {
  const byTerm = new Map<number, Set<string>>();
  for (const m of cluster.members.values()) {
    let text = '';
    try {
      text = await readFile(m.logPath, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.includes('"raft-state"')) continue;
      const event = JSON.parse(line) as { term: number; role: string; nodeId: string };
      if (event.role !== 'leader') continue;
      const set = byTerm.get(event.term) ?? new Set<string>();
      set.add(event.nodeId);
      byTerm.set(event.term, set);
    }
  }
  return byTerm;
}

/** Writes sequential keys from `concurrency` callers until stopped; remembers what was acknowledged. */
export class WriteLoad {
  readonly acked = new Map<string, string>();
  errors = 0;
  private running = true;
  private readonly done: Promise<void>;
  private seq = 0;

  constructor(private readonly client: TestudoClient, prefix: string, concurrency = 4) {
    const caller = async (): Promise<void> => {
      while (this.running) {
        const n = ++this.seq;
        const key = `${prefix}/${String(n).padStart(7, '0')}`;
        try {
          await this.client.put(key, String(n));
          this.acked.set(key, String(n));
        } catch (error) {
          this.errors++;
          // A closed client fails at once; never spin without yielding to the event loop.
          if ((error as Error).name === 'ClientClosedError') return;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    };
    this.done = Promise.all(Array.from({ length: concurrency }, caller)).then(() => undefined);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** Acknowledged writes that a linearizable read does not return (must be none). */
export async function missingWrites(client: TestudoClient, acked: ReadonlyMap<string, string>, prefix: string): Promise<string[]> {
  const seen = new Map<string, string>();
  for await (const item of client.listAll({ prefix: `${prefix}/`, pageSize: 5000 })) seen.set(item.key, new TextDecoder().decode(item.value));
  return [...acked].filter(([k, v]) => seen.get(k) !== v).map(([k]) => k);
}

/** One member's own status; retried, since its channel may still be backing off after the member restarted. */
export async function memberStatusOf(client: TestudoClient, address: string): ReturnType<TestudoClient['memberStatus']> {
  return waitFor(`member status of ${address}`, () => client.memberStatus(address), 10_000);
}

/**
 * Runs the `testudo` CLI as a child process; resolves with its exit code and
 * output (never rejects on a non-zero exit). A run past `timeoutMs` is killed
 * and resolves with code -1: the caller calls that hung.
 */
export function runTestudo(args: readonly string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, prefix] = testudoCommand();
  return new Promise((resolve) => {
    execFile(cmd, [...prefix, ...args], { timeout: timeoutMs, env: { ...process.env, LOG_LEVEL: 'warn' } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}
