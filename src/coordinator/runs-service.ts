import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createDeflateRaw, inflateRaw, inflateRawSync } from 'node:zlib';

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { workerRecord, type RunSubmission, type RunSummary, type RunView } from '../model/index.js';
import { maskRunEnv } from '../report/mask.js';
import { InvalidArgumentError } from './codec.js';
import { ServiceError, toServiceError } from './grpc-errors.js';
import { orchJsonBytesMax } from './orchestrator/commands.js';
import type { Orchestrator } from './orchestrator/state.js';
import { idProblem, validateSubmission } from './orchestrator/validate.js';
import type { Proposer } from './propose.js';
import { onLeader, remainingMs, unary, type ServiceHost } from './services.js';
import { failStream } from './stream-status.js';
import { tracer } from '../common/trace.js';
import type { Leader } from './leader/index.js';

/** What the Runs service needs beyond the Kv host. */
export interface RunsHost extends ServiceHost {
  readonly orchestrator: Orchestrator;
  /** The leader's parts (sessions, scheduling); acted on only on the leader. */
  readonly leader: Leader;
  readonly proposer: Proposer;
  readonly archive: ReportArchive;
}

/** Watch streams open on one node at once. */
export const watchStreamsMax = 1000;
/** Least time between two progress messages of one watch stream. */
export const watchIntervalMs = 100;
/**
 * Longest a watch stream stays silent: past it the node confirms it is
 * current and sends the summary unchanged. Clients take a stream silent for
 * several of these as dead (see TestudoClient.watchRun).
 */
export const watchKeepaliveMs = 1000;
/** Longest one confirmation (ReadIndex) may take before the watch fails with a retryable error. */
export const watchReadTimeoutMs = 3000;

export function runsHandlers(host: RunsHost): grpc.UntypedServiceImplementation {
  let watches = 0;
  return {
    SubmitRun: unary<{ runId: string; submission: Buffer }, unknown>(host, 'SubmitRun', async (req, call) => {
      const submission = await decodeSubmission(req.runId, req.submission);
      return onLeader(host, call, 'Runs', 'SubmitRun', async () => {
        tracer?.event('leader.submit', `run=${req.runId}`);
        const submitted = host.proposer.propose(
          { type: 'submit-run', runId: req.runId, submission },
          { deadlineMs: host.nowMs() + remainingMs(call), idempotencyKey: `run:${req.runId}` },
        );
        // Its first assignments go right behind it instead of after its commit.
        host.leader.proposeAlongside(req.runId, submission);
        const { value, duplicate } = await submitted;
        host.leader.kick();
        const tasks = value?.tasks ?? host.orchestrator.runSummary(req.runId)?.counts.tasks ?? 0;
        return { runId: req.runId, tasks, duplicate };
      });
    }),
    GetRun: unary<{ runId: string; stale: boolean }, unknown>(host, 'GetRun', async (req) => {
      checkId(req.runId, 'run_id');
      if (!req.stale) await host.node.readIndex();
      const live = host.orchestrator.getRun(req.runId);
      if (live !== undefined) return { run: await encodeRunView(live), archived: false };
      const archived = await host.archive.read(req.runId);
      if (archived !== null) return { run: await remaskArchived(archived), archived: true };
      throw new ServiceError(grpc.status.NOT_FOUND, 'not-found', false, `no run ${req.runId}`);
    }),
    ListRuns: unary<{ stale: boolean }, unknown>(host, 'ListRuns', async (req) => {
      if (!req.stale) await host.node.readIndex();
      return { runs: host.orchestrator.listRuns().map(summaryMessage) };
    }),
    CancelRun: unary<{ runId: string; reason: string }, unknown>(host, 'CancelRun', async (req, call) => {
      checkId(req.runId, 'run_id');
      return onLeader(host, call, 'Runs', 'CancelRun', async () => {
        if (host.orchestrator.runSummary(req.runId) === undefined) throw new ServiceError(grpc.status.NOT_FOUND, 'not-found', false, `no run ${req.runId}`);
        const reason = req.reason === '' ? 'cancelled by request' : req.reason.slice(0, 1024);
        const { value } = await host.proposer.propose({ type: 'cancel-run', runId: req.runId, reason }, { deadlineMs: host.nowMs() + remainingMs(call) });
        if (value !== null) host.leader.pushCancels(value, reason);
        return { state: host.orchestrator.runSummary(req.runId)?.state ?? 'cancelled', cancelledAttempts: value?.cancelled.length ?? 0 };
      });
    }),
    ListWorkers: unary<Record<string, never>, unknown>(host, 'ListWorkers', async (_req, call) =>
      onLeader(host, call, 'Runs', 'ListWorkers', async () => {
        await host.node.readIndex();
        const nowMs = host.nowMs();
        return {
          workers: host.orchestrator.listWorkers().map((w) => {
            const heardMs = host.leader.lastHeartbeatMs(w.workerId);
            // An age, not a time: it reads the same on a follower whose clock differs from the leader's.
            const { service, reason } = host.orchestrator.workerService(w.workerId, nowMs);
            return {
              ...workerRecord(w),
              connected: host.leader.connected(w.workerId),
              lastHeartbeatAgeMs: heardMs === undefined ? -1 : Math.max(0, nowMs - heardMs),
              service,
              serviceReason: reason,
            };
          }),
        };
      }),
    ),
    DrainWorker: unary<{ workerId: string; undrain: boolean }, unknown>(host, 'DrainWorker', async (req, call) => {
      checkId(req.workerId, 'worker_id');
      return onLeader(host, call, 'Runs', 'DrainWorker', async () => {
        if (host.orchestrator.worker(req.workerId) === undefined) throw new ServiceError(grpc.status.NOT_FOUND, 'not-found', false, `no worker ${req.workerId}`);
        const { value } = await host.proposer.propose({ type: 'drain-worker', workerId: req.workerId, drain: !req.undrain }, { deadlineMs: host.nowMs() + remainingMs(call) });
        host.leader.kick();
        return { state: value?.state ?? '' };
      });
    }),
    ReleaseWorker: unary<{ workerId: string; reason: string; disable: boolean; enable: boolean }, unknown>(host, 'ReleaseWorker', async (req, call) => {
      checkId(req.workerId, 'worker_id');
      if (req.disable && req.enable) throw new InvalidArgumentError('disable', 'disable and enable exclude each other');
      return onLeader(host, call, 'Runs', 'ReleaseWorker', async () => {
        if (host.orchestrator.worker(req.workerId) === undefined) throw new ServiceError(grpc.status.NOT_FOUND, 'not-found', false, `no worker ${req.workerId}`);
        const reason = (req.reason === '' ? 'released by an operator' : req.reason).slice(0, 500);
        const command =
          req.disable || req.enable
            ? ({ type: 'set-breaker', workerId: req.workerId, enabled: req.enable, reason } as const)
            : ({ type: 'release-worker', workerId: req.workerId, reason } as const);
        const { value } = await host.proposer.propose(command, { deadlineMs: host.nowMs() + remainingMs(call) });
        host.leader.kick();
        return { breaker: value?.breaker ?? '' };
      });
    }),
    ForgetWorker: unary<{ workerId: string; reason: string }, unknown>(host, 'ForgetWorker', async (req, call) => {
      checkId(req.workerId, 'worker_id');
      return onLeader(host, call, 'Runs', 'ForgetWorker', async () => forgetWorker(host, req.workerId, req.reason, host.nowMs() + remainingMs(call)));
    }),
    BreakerConfig: unary<{ set: string }, unknown>(host, 'BreakerConfig', async (req, call) => {
      let change: unknown = null;
      if (req.set !== '') {
        try {
          change = JSON.parse(req.set) as unknown;
        } catch (error) {
          throw new InvalidArgumentError('set', `must be a JSON object: ${(error as Error).message}`);
        }
        if (typeof change !== 'object' || change === null || Array.isArray(change)) throw new InvalidArgumentError('set', 'must be a JSON object');
      }
      return onLeader(host, call, 'Runs', 'BreakerConfig', async () => {
        if (change === null) {
          await host.node.readIndex();
          return { config: JSON.stringify(host.orchestrator.breakerConfig()) };
        }
        const { value } = await host.proposer.propose({ type: 'set-breaker-config', config: change as Record<string, never> }, { deadlineMs: host.nowMs() + remainingMs(call) });
        return { config: JSON.stringify(value?.config ?? host.orchestrator.breakerConfig()) };
      });
    }),
    WatchRun: (call: grpc.ServerWritableStream<{ runId: string }, unknown>) => {
      if (watches >= watchStreamsMax) {
        failStream(call, toServiceError(new ServiceError(grpc.status.RESOURCE_EXHAUSTED, 'too-many-requests', true, `${watchStreamsMax} watches are open here`), host.leaderHint()));
        return;
      }
      watches++;
      void watchRun(host, call).finally(() => watches--);
    },
  };
}

/**
 * ForgetWorker on the leader: refused (before anything is proposed) for an
 * unknown worker or one still connected or not yet declared lost; the state
 * machine checks `lost` again when it applies the command.
 */
async function forgetWorker(host: RunsHost, workerId: string, reasonGiven: string, deadlineMs: number): Promise<{ wasBound: boolean }> {
  const worker = host.orchestrator.worker(workerId);
  if (worker === undefined) throw new ServiceError(grpc.status.NOT_FOUND, 'not-found', false, `no worker ${workerId}`);
  if (host.leader.connected(workerId) || worker.state !== 'lost') {
    throw new ServiceError(
      grpc.status.FAILED_PRECONDITION,
      'invalid',
      false,
      `worker ${workerId} is ${host.leader.connected(workerId) ? 'connected' : worker.state}: stop it and wait until it is declared lost (testudo workers list), then forget it`,
    );
  }
  const reason = (reasonGiven === '' ? 'forgotten by an operator' : reasonGiven).slice(0, 500);
  // The audit line (who, when, the worker id and reason) is the record of it.
  const { value } = await host.proposer.propose({ type: 'forget-worker-key', workerId, reason }, { deadlineMs });
  return { wasBound: value?.wasBound ?? false };
}

type WatchCall = grpc.ServerWritableStream<{ runId: string }, unknown>;

async function watchRun(host: RunsHost, call: WatchCall): Promise<void> {
  const runId = call.request.runId;
  let watch: RunWatch | null = null;
  try {
    checkId(runId, 'run_id');
    await confirmCurrent(host);
    if (host.orchestrator.runSummary(runId) === undefined) {
      const archived = await host.archive.read(runId);
      if (archived === null) throw new ServiceError(grpc.status.NOT_FOUND, 'not-found', false, `no run ${runId}`);
      const run = JSON.parse(inflateRawSync(archived).toString('utf8')) as RunView;
      call.write({ summary: summaryMessage(run), servedBy: host.nodeId });
      call.end();
      return;
    }
    watch = new RunWatch(host, call, runId);
    await watch.follow();
    if (!call.cancelled) call.end();
  } catch (error) {
    failStream(call, toServiceError(error, host.leaderHint()));
  } finally {
    watch?.close();
  }
}

/**
 * Proves this node current: a ReadIndex round answered within
 * `watchReadTimeoutMs`. A node cut off from the leader (or a leader cut off
 * from its quorum) fails it, with a retryable error.
 */
async function confirmCurrent(host: RunsHost): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ServiceError(grpc.status.UNAVAILABLE, 'timeout', true, `${host.nodeId} could not confirm it is current within ${watchReadTimeoutMs} ms`)), watchReadTimeoutMs);
  });
  try {
    await Promise.race([host.node.readIndex(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One watch stream: the run's summary when it changes (at most one message
 * per `watchIntervalMs`), and at least every `watchKeepaliveMs` even
 * unchanged, each keepalive sent only after `confirmCurrent`. A node that
 * loses touch with the leader thus fails its watches (the client moves on)
 * instead of keeping them open and silent.
 */
class RunWatch {
  private wake: ((why: 'change' | 'keepalive' | 'stop') => void) | null = null;
  private changeTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastSent = '';
  private readonly unsubscribe: () => void;

  constructor(
    private readonly host: RunsHost,
    private readonly call: WatchCall,
    private readonly runId: string,
  ) {
    this.unsubscribe = host.orchestrator.onChange((runIds) => {
      if (!runIds.has(runId) || this.changeTimer !== null) return;
      this.changeTimer = setTimeout(() => {
        this.changeTimer = null;
        this.wake?.('change');
      }, watchIntervalMs);
    });
    const stop = (): void => {
      this.stopped = true;
      this.wake?.('stop');
    };
    call.on('cancelled', stop);
    call.on('close', stop);
  }

  /** Resolves when the run has ended (its last summary sent) or the client went away. */
  async follow(): Promise<void> {
    let keepalive = true;
    while (!this.stopped) {
      const summary = this.host.orchestrator.runSummary(this.runId);
      // Pruned while watched: end; a new watch is served from the archive.
      if (summary === undefined) return;
      const text = JSON.stringify(summary);
      if (keepalive || text !== this.lastSent) {
        this.lastSent = text;
        this.call.write({ summary: summaryMessage(summary), servedBy: this.host.nodeId });
      }
      if (summary.state !== 'running') return;
      keepalive = (await this.next()) === 'keepalive';
      if (keepalive && !this.stopped) await confirmCurrent(this.host);
    }
  }

  private next(): Promise<'change' | 'keepalive' | 'stop'> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.('keepalive'), watchKeepaliveMs);
      this.wake = (why) => {
        clearTimeout(timer);
        this.wake = null;
        resolve(why);
      };
      if (this.stopped) this.wake('stop');
    });
  }

  close(): void {
    this.stopped = true;
    this.unsubscribe();
    if (this.changeTimer !== null) clearTimeout(this.changeTimer);
    this.wake?.('stop');
  }
}

function checkId(value: string, field: string): void {
  const problem = idProblem(value, field);
  if (problem !== null) throw new InvalidArgumentError(field, problem);
}

/**
 * The submission, inflated on libuv's thread pool (a 20,000-task run's is
 * megabytes: inflated on the event loop it held a leader past the election
 * timeout), parsed and checked.
 */
async function decodeSubmission(runId: string, data: Buffer): Promise<RunSubmission> {
  checkId(runId, 'run_id');
  let submission: RunSubmission;
  try {
    submission = JSON.parse((await inflateRawAsync(data, { maxOutputLength: orchJsonBytesMax })).toString('utf8')) as RunSubmission;
  } catch (error) {
    throw new InvalidArgumentError('submission', `must be raw-deflated JSON of a RunSubmission: ${(error as Error).message}`);
  }
  const problem = validateSubmission(runId, submission);
  if (problem !== null) throw new InvalidArgumentError('submission', problem);
  return submission;
}

export function summaryMessage(s: RunSummary): Record<string, unknown> {
  return { runId: s.runId, name: s.name, state: s.state, submittedAtMs: s.submittedAtMs, finishedAtMs: s.finishedAtMs, counts: { ...s.counts }, degraded: s.degraded === true };
}

const inflateRawAsync = promisify(inflateRaw);

/** Tasks serialized per event-loop turn by encodeRunView. */
export const encodeTasksPerTurn = 500;

/**
 * A run's view as raw-deflated JSON, without holding the event loop: the
 * tasks are serialized a slice per turn and each slice goes straight into a
 * deflate stream, which compresses on libuv's thread pool. A run of 20,000
 * tasks is ~15 MB of JSON; joined into one string and turned into one Buffer
 * it held each node's loop for 0.3-0.5 s (the archive writes it on all three
 * as a run ends), and done in one go at all it stalled heartbeats past the
 * election timeout. The view is a copy, so slicing it across turns still
 * gives one consistent state. The tasks' env values are masked
 * ({@link maskRunEnv}): they may be secrets, and only workers need them.
 */
export async function encodeRunView(run: RunView): Promise<Buffer> {
  const { tasks, ...rest } = maskRunEnv(run);
  const head = JSON.stringify(rest);
  const deflate = createDeflateRaw();
  const chunks: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.once('end', resolve);
    deflate.once('error', reject);
  });
  deflate.write(`${head.slice(0, -1)}${head === '{}' ? '' : ','}"tasks":[`);
  for (let i = 0; i < tasks.length; i += encodeTasksPerTurn) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    deflate.write(`${i > 0 ? ',' : ''}${tasks.slice(i, i + encodeTasksPerTurn).map((t) => JSON.stringify(t)).join(',')}`);
  }
  deflate.end(']}');
  await ended;
  return Buffer.concat(chunks);
}

/** An archived view with its env values masked (archives written before masking hold them in clear). */
async function remaskArchived(archived: Buffer): Promise<Buffer> {
  return encodeRunView(JSON.parse(inflateRawSync(archived, { maxOutputLength: orchJsonBytesMax * 16 }).toString('utf8')) as RunView);
}

/** The folder of a node's archived run views. */
function reportArchiveDir(dataDir: string): string {
  return join(dataDir, 'reports');
}

/** Where a node keeps a finished run's archived view: `<data dir>/reports/<run id>.json.deflate`. */
export function reportArchivePath(dataDir: string, runId: string): string {
  return join(reportArchiveDir(dataDir), `${runId}.json.deflate`);
}

/**
 * Finished runs' full views, kept as files in the node's data directory so a
 * run's report stays available after the run is pruned from the replicated
 * state. Every node writes its own copy when it applies a run's end.
 * Written to a temp file and renamed; a missing or unreadable file is "no
 * report" (the caller gets NOT_FOUND), never a crash.
 */
export class ReportArchive {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly orchestrator: Orchestrator,
    private readonly log: Logger,
  ) {
    orchestrator.onChange((runIds) => {
      for (const runId of runIds) {
        const summary = orchestrator.runSummary(runId);
        if (summary !== undefined && summary.state !== 'running') this.pending.add(runId);
      }
      if (this.pending.size > 0 && this.timer === null) {
        this.timer = setTimeout(() => void this.flush(), 500);
        this.timer.unref();
      }
    });
  }

  private async flush(): Promise<void> {
    this.timer = null;
    const runIds = [...this.pending];
    this.pending.clear();
    try {
      await mkdir(reportArchiveDir(this.dataDir), { recursive: true });
      for (const runId of runIds) {
        const run = this.orchestrator.getRun(runId);
        if (run === undefined) continue;
        const file = reportArchivePath(this.dataDir, runId);
        await writeFile(`${file}.tmp`, await encodeRunView(run));
        await rename(`${file}.tmp`, file);
      }
    } catch (error) {
      this.log.warn({ err: error }, 'could not archive run reports');
    }
  }

  /** The archived run view (raw-deflated JSON), or null. */
  async read(runId: string): Promise<Buffer | null> {
    if (idProblem(runId, 'run id') !== null) return null;
    try {
      const data = await readFile(reportArchivePath(this.dataDir, runId));
      inflateRawSync(data, { maxOutputLength: orchJsonBytesMax * 16 });
      return data;
    } catch {
      return null;
    }
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
  }
}

export type { RunSummary };
