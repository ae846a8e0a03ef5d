import type { ClusterStatus, TestudoClient } from '../client/index.js';
import type { LocalCluster } from './local-cluster.js';

/** How often `waitLocalClusterReady` asks the cluster and looks at its processes. */
export const readyPollMs = 100;

/** A process of the local cluster exited before the cluster was ready. */
export class LocalProcessExitedError extends Error {
  override readonly name = 'LocalProcessExitedError';
  /** `coordinator n1`, `worker w2`. */
  readonly process: string;
  /** Null when a signal ended it. */
  readonly exitCode: number | null;
  readonly logPath: string;

  constructor(process: string, exitCode: number | null, logPath: string) {
    super(`${process} exited during start (${exitCode === null ? 'by a signal' : `code ${exitCode}`}); its log: ${logPath}`);
    this.process = process;
    this.exitCode = exitCode;
    this.logPath = logPath;
  }
}

/** A coordinator that answered at one of the local cluster's addresses belongs to another cluster. */
export class ForeignClusterError extends Error {
  override readonly name = 'ForeignClusterError';
  readonly memberId: string;
  readonly address: string;
  readonly clusterId: string;
  readonly expectedClusterId: string;

  constructor(member: { id: string; address: string; clusterId: string }, expectedClusterId: string) {
    super(
      `the coordinator answering at ${member.address} (member ${member.id}) belongs to cluster "${member.clusterId}", not to the cluster started here ("${expectedClusterId}"): ` +
        'another Testudo cluster holds these ports; stop it or choose other ports',
    );
    this.memberId = member.id;
    this.address = member.address;
    this.clusterId = member.clusterId;
    this.expectedClusterId = expectedClusterId;
  }
}

/** The local cluster had no leader (or not every worker) within the time given. */
export class LocalClusterTimeoutError extends Error {
  override readonly name = 'LocalClusterTimeoutError';
  readonly timeoutMs: number;

  constructor(timeoutMs: number, waitingFor: string, cause?: unknown) {
    super(`${waitingFor} after ${timeoutMs} ms; see the coordinator logs`, cause === undefined ? undefined : { cause });
    this.timeoutMs = timeoutMs;
  }
}

export interface ReadyOptions {
  readonly timeoutMs: number;
  /** Also wait until the leader reports this many workers connected. */
  readonly workers?: number;
  /** Polled between tries: true ends the wait with null. */
  readonly cancelled?: () => boolean;
}

/**
 * Waits until `client` reports a leader with every member reachable (and,
 * with `workers`, that many workers connected), failing early instead of
 * reporting another cluster's state as this one's: when a coordinator or
 * worker process of `cluster` exits (LocalProcessExitedError), or a member
 * that answers belongs to another cluster (ForeignClusterError). Null when
 * `cancelled` said so first.
 */
export async function waitLocalClusterReady(cluster: LocalCluster, client: TestudoClient, options: ReadyOptions): Promise<ClusterStatus | null> {
  const exits = watchExits(cluster);
  const deadlineMs = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const exited = exits.first();
    if (exited !== null) throw exited;
    if (options.cancelled?.() === true) return null;
    try {
      const status = await client.clusterStatus();
      refuseForeign(status, cluster.clusterId);
      if (status.leaderId !== '' && status.members.every((m) => m.reachable) && (await workersConnected(client, options.workers ?? 0))) {
        // A process may have died while the answer was on its way.
        const late = exits.first();
        if (late !== null) throw late;
        return status;
      }
    } catch (error) {
      if (error instanceof ForeignClusterError) throw error;
      lastError = error;
    }
    if (Date.now() > deadlineMs) {
      const waitingFor = options.workers === undefined ? 'no leader with every member reachable' : `not every one of the ${options.workers} workers connected`;
      throw new LocalClusterTimeoutError(options.timeoutMs, waitingFor, lastError);
    }
    await new Promise((resolve) => setTimeout(resolve, readyPollMs));
  }
}

function refuseForeign(status: ClusterStatus, expectedClusterId: string): void {
  for (const m of status.members) {
    // An unreachable member reports no id; a reachable one must report ours.
    if (m.clusterId !== '' && m.clusterId !== expectedClusterId) throw new ForeignClusterError(m, expectedClusterId);
  }
}

async function workersConnected(client: TestudoClient, workers: number): Promise<boolean> {
  if (workers === 0) return true;
  const list = await client.listWorkers();
  return list.filter((w) => w.connected).length >= workers;
}

/** Records the first exit of any coordinator or worker process running now. */
function watchExits(cluster: LocalCluster): { first: () => LocalProcessExitedError | null } {
  let first: LocalProcessExitedError | null = null;
  const note = (name: string, logPath: string, exit: Promise<number | null> | undefined): void => {
    void exit?.then((code) => {
      first ??= new LocalProcessExitedError(name, code, logPath);
    });
  };
  for (const m of cluster.members.values()) if (m.child !== null) note(`coordinator ${m.id}`, m.logPath, cluster.exited(m.id));
  for (const w of cluster.workers.values()) if (w.child !== null) note(`worker ${w.id}`, w.logPath, cluster.workerExited(w.id));
  return { first: () => first };
}
