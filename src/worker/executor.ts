// Runs one task attempt as a real process and turns what happened into an
// AttemptResult.
//
// The command runs as `/bin/sh -c <command>` in its own process group, so a
// timeout, a cancel or the end of the attempt reaches every process it
// started: SIGTERM to the group, SIGKILL after a grace period, and SIGKILL to
// whatever is left of the group once the shell exits. Output goes to
// `<attemptDir>/output.log` (bounded) and a tail in memory; the command writes
// its JUnit report to $TESTUDO_JUNIT.
//
// The attempt's own file operations before the start and after the exit (its
// directory, the working directory's check, a report up to
// junitReportReadInPlaceBytesMax) are synchronous: each is a few tens of
// microseconds on a local disk, while an asynchronous one costs a round trip
// through libuv's thread pool and back to this event loop, each hop waiting
// for a core when the machine is busy, and the attempt holds its slot for all
// of them (docs/architecture.md, "An attempt's own file operations are
// synchronous").

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { spawnRetriesMax, type AttemptResult, type TaskTemplate, type TestCaseResult } from '../model/types.js';
import type { AttemptChaos } from './chaos-hooks.js';
import { JUnitParseError, parseJUnitXml, type JUnitParseResult } from '../report/junit-parse.js';
import {
  junitReportBytesMax,
  junitReportReadInPlaceBytesMax,
  killGraceMsDefault,
  logBytesMaxDefault,
  outputTailBytesDefault,
  overBudgetMessageBytes,
  pipeDrainMsMax,
  resultFailureTextBytesMax,
  truncateUtf8,
  truncationMarker,
} from './limits.js';
import { OutputCapture } from './output-capture.js';

export interface AttemptRequest {
  readonly attemptId: string;
  readonly taskId: string;
  readonly runId: string;
  readonly workerId: string;
  /** 1-based. */
  readonly attempt: number;
  /** command, cwd, timeoutSec, env, matrix, shard, shardCount. */
  readonly template: TaskTemplate;
  /** After the coordinator's timing split. */
  readonly files: readonly string[];
  /** Absolute; template.cwd resolves against it when relative. */
  readonly checkoutDir: string;
}

export interface ExecutorOptions {
  /** Attempt dirs go under <workDir>/attempts/<sanitized attemptId>/ (junit.xml, output.log). */
  readonly workDir: string;
  /** Abort = cancel: kill the group, result infraClass 'cancelled'. */
  readonly signal?: AbortSignal;
  /** SIGTERM → SIGKILL delay, default 5000. */
  readonly killGraceMs?: number;
  /** Default 8192. */
  readonly outputTailBytes?: number;
  /** Full log cap on disk, default 64 MiB; beyond, truncated with a marker. */
  readonly logBytesMax?: number;
  /** Default Date.now. */
  readonly now?: () => number;
  readonly onStarted?: (pid: number) => void;
  /** Draws the chaos hooks' fault for one start of the command (only with --chaos-hooks; a retried start draws again). */
  readonly chaos?: () => AttemptChaos;
  /** Starts that failed (nothing ran) may be tried again this many times, after spawnRetryDelayMs, doubling (clamped to 0..spawnRetriesMax). */
  readonly spawnRetries?: number;
  /** Called once the attempt's result is made, with where its time went; only for an attempt whose command was started. */
  readonly onPhases?: (phases: AttemptPhases) => void;
}

/**
 * Where an attempt's wall time went on the worker, in ms of the monotonic
 * clock; the four add up to the executor's whole time for the attempt
 * (docs/metrics.md, `testudo_worker_attempt_phase_seconds_total`).
 */
export interface AttemptPhases {
  /** Before the command's first start: the attempt directory, the working directory's check, the output log. */
  readonly prepareMs: number;
  /** Inside spawn(): fork and exec, while the worker's event loop waits (every start, when retried in place). */
  readonly spawnMs: number;
  /** From the start to the command's exit, the waits between retried starts included. */
  readonly commandMs: number;
  /** From the exit to the result: the group killed, the pipes drained, the log closed, the report read and parsed. */
  readonly collectMs: number;
}

/** The wait before the first spawn retry in place; each further one waits twice as long. */
export const spawnRetryDelayMs = 100;

/**
 * A file or directory name for an id: safe characters kept, anything else
 * replaced, plus a short hash of the id when it had to change (so distinct ids
 * never share a name).
 */
export function sanitizeId(id: string): string {
  const safe = id.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 120);
  if (safe === id && safe !== '' && safe !== '.' && safe !== '..' && !safe.startsWith('.')) return safe;
  const hash = createHash('sha256').update(id).digest('hex').slice(0, 12);
  return `${safe.replace(/^\.+/, '_')}-${hash}`;
}

/** The directory of an attempt's files (output.log, junit.xml). */
export function attemptDir(workDir: string, attemptId: string): string {
  return path.join(workDir, 'attempts', sanitizeId(attemptId));
}

/** The full output log of an attempt. */
export function attemptLogPath(workDir: string, attemptId: string): string {
  return path.join(attemptDir(workDir, attemptId), 'output.log');
}

/**
 * Sends a signal to a whole process group; false when it could not (ESRCH: the
 * group is gone; EPERM: a member we may not signal).
 */
export function killProcessGroup(pgid: number, signal: NodeJS.Signals): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false;
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export interface GroupRunOptions {
  readonly command: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** 0 or less: no timeout. */
  readonly timeoutMs: number;
  readonly killGraceMs: number;
  readonly capture: OutputCapture;
  readonly signal?: AbortSignal;
  readonly onStarted?: (pid: number) => void;
  /** The shell exited; called before the rest of its group is killed. */
  readonly onExited?: () => void;
  /** Fail as if spawn() had, with this error text, and start nothing (chaos hooks). */
  readonly injectSpawnError?: string;
}

export interface GroupRunOutcome {
  /** Set when the process could not be started. */
  readonly spawnError?: string;
  readonly exitCode: number | null;
  /** Signal that ended the shell, or ''. */
  readonly signal: string;
  /** We ended it because the timeout passed. */
  readonly timedOut: boolean;
  /** We ended it because the abort signal fired. */
  readonly cancelled: boolean;
  /** We sent SIGKILL to the group before the shell exited. */
  readonly killedByUs: boolean;
  /** The process was spawned. */
  readonly started: boolean;
  /** Time inside spawn() (ms, monotonic); 0 when nothing was tried. */
  readonly spawnMs?: number;
  /** Time from the process's exit to the outcome (the group killed, the pipes drained; ms, monotonic). */
  readonly afterExitMs?: number;
}

/**
 * Runs `/bin/sh -c command` in its own process group, capturing its output,
 * and resolves once it has exited, its group has been killed and its pipes
 * are drained (or given up on).
 */
export async function runProcessGroup(options: GroupRunOptions): Promise<GroupRunOutcome> {
  const { capture, signal } = options;
  const idle = { exitCode: null, signal: '', timedOut: false, killedByUs: false, started: false };
  if (signal?.aborted === true) return { ...idle, cancelled: true };
  if (options.injectSpawnError !== undefined) return { ...idle, cancelled: false, spawnError: options.injectSpawnError };

  let child;
  const spawnAt = performance.now();
  try {
    child = spawn('/bin/sh', ['-c', options.command], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    return { ...idle, cancelled: false, spawnError: errorText(err), spawnMs: performance.now() - spawnAt };
  }
  const spawnMs = performance.now() - spawnAt;

  let timedOut = false;
  let cancelled = false;
  let killedByUs = false;
  let exited = false;
  let graceTimer: NodeJS.Timeout | undefined;
  let timeoutTimer: NodeJS.Timeout | undefined;
  const pid = child.pid;

  const terminate = (): void => {
    if (pid === undefined || exited || graceTimer !== undefined) return;
    killProcessGroup(pid, 'SIGTERM');
    graceTimer = setTimeout(() => {
      if (!exited) {
        killedByUs = true;
        killProcessGroup(pid, 'SIGKILL');
      }
    }, options.killGraceMs);
  };
  const onAbort = (): void => {
    if (exited) return;
    cancelled = true;
    terminate();
  };

  const ended = new Promise<{ code: number | null; sig: NodeJS.Signals | null; error?: string }>((resolve) => {
    child.once('error', (err) => resolve({ code: null, sig: null, error: errorText(err) }));
    child.once('exit', (code, sig) => resolve({ code, sig }));
  });

  if (child.stdout !== null) capture.attach(child.stdout);
  if (child.stderr !== null) capture.attach(child.stderr);
  const drained = Promise.all(
    [child.stdout, child.stderr].map(
      (stream) =>
        new Promise<void>((resolve) => {
          if (stream === null || stream.destroyed) return resolve();
          stream.once('close', () => resolve());
        }),
    ),
  );

  if (pid !== undefined) {
    try {
      options.onStarted?.(pid);
    } catch {
      // a failing observer must not leave the process unwatched
    }
    if (options.timeoutMs > 0) {
      timeoutTimer = setTimeout(() => {
        if (exited) return;
        timedOut = true;
        terminate();
      }, options.timeoutMs);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  }

  const end = await ended;
  const exitedAt = performance.now();
  exited = true;
  options.onExited?.();
  clearTimeout(timeoutTimer);
  clearTimeout(graceTimer);
  signal?.removeEventListener('abort', onAbort);

  if (end.error !== undefined && pid === undefined) {
    child.stdout?.destroy();
    child.stderr?.destroy();
    return { ...idle, cancelled: false, spawnError: end.error, spawnMs };
  }
  // No member of the group outlives the attempt.
  if (pid !== undefined) killProcessGroup(pid, 'SIGKILL');
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([drained, new Promise<void>((resolve) => (drainTimer = setTimeout(resolve, pipeDrainMsMax)))]);
  clearTimeout(drainTimer);
  child.stdout?.destroy();
  child.stderr?.destroy();

  return { exitCode: end.code, signal: end.sig ?? '', timedOut, cancelled, killedByUs, started: true, spawnMs, afterExitMs: performance.now() - exitedAt };
}

/** The environment of an attempt's command. */
export function attemptEnv(request: AttemptRequest, junitPath: string): NodeJS.ProcessEnv {
  const { template } = request;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(template.env)) if (validEnvName(key)) env[key] = value;
  for (const [key, value] of Object.entries(template.matrix)) if (validEnvName(key)) env[key] = value;
  for (const [key, value] of Object.entries(template.matrix)) {
    env[`TESTUDO_MATRIX_${key.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`] = value;
  }
  env['TESTUDO_JUNIT'] = junitPath;
  env['TESTUDO_SHARD'] = `${template.shard}/${template.shardCount}`;
  env['TESTUDO_SHARD_INDEX'] = String(template.shard);
  env['TESTUDO_SHARD_COUNT'] = String(template.shardCount);
  env['TESTUDO_FILES'] = request.files.join(' ');
  env['TESTUDO_ATTEMPT'] = String(request.attempt);
  env['TESTUDO_RUN_ID'] = request.runId;
  env['TESTUDO_TASK_ID'] = request.taskId;
  env['TESTUDO_WORKER_ID'] = request.workerId;
  env['TESTUDO_CHECKOUT'] = request.checkoutDir;
  return env;
}

/** Runs one attempt; never rejects: whatever happens becomes the result. */
export async function runAttempt(request: AttemptRequest, options: ExecutorOptions): Promise<AttemptResult> {
  const onPhases = options.onPhases;
  if (onPhases === undefined) return attempt(request, options, null);
  const timing: AttemptTiming = { begunAt: performance.now(), startAt: null, started: false, ranAt: 0, spawnMs: 0, afterExitMs: 0 };
  const result = await attempt(request, options, timing);
  if (timing.startAt !== null && timing.started) {
    const collectMs = timing.afterExitMs + (performance.now() - timing.ranAt);
    const beforeExitMs = timing.ranAt - timing.startAt - timing.afterExitMs;
    onPhases({ prepareMs: timing.startAt - timing.begunAt, spawnMs: timing.spawnMs, commandMs: Math.max(0, beforeExitMs - timing.spawnMs), collectMs });
  }
  return result;
}

/** runAttempt's stopwatch (performance.now() readings); startAt stays null while no start was tried. */
interface AttemptTiming {
  readonly begunAt: number;
  startAt: number | null;
  /** The last start ran the command. */
  started: boolean;
  ranAt: number;
  spawnMs: number;
  afterExitMs: number;
}

async function attempt(request: AttemptRequest, options: ExecutorOptions, timing: AttemptTiming | null): Promise<AttemptResult> {
  const now = options.now ?? Date.now;
  const startedAtMs = now();
  const dir = attemptDir(options.workDir, request.attemptId);
  const junitPath = path.resolve(dir, 'junit.xml');
  const logPath = path.join(dir, 'output.log');
  const base = {
    attemptId: request.attemptId,
    taskId: request.taskId,
    workerId: request.workerId,
    startedAtMs,
  };
  const infra = (
    infraClass: AttemptResult['infraClass'],
    reason: string,
    rest: Partial<AttemptResult> = {},
  ): AttemptResult => ({
    ...base,
    outcome: 'infra-error',
    infraClass,
    reason,
    exitCode: null,
    signal: '',
    finishedAtMs: now(),
    tests: [],
    outputTail: '',
    logBytes: 0,
    ...rest,
  });

  try {
    mkdirSync(dir, { recursive: true });
    rmSync(junitPath, { force: true });
  } catch (err) {
    return infra('spawn-error', `cannot prepare the attempt directory ${dir}: ${errorText(err)}`);
  }

  const cwd = path.resolve(request.checkoutDir, request.template.cwd);
  const cwdProblem = directoryProblem(cwd);
  if (cwdProblem !== undefined) return infra('spawn-error', `working directory ${cwd} ${cwdProblem}`);

  const capture = new OutputCapture({
    logPath,
    logBytesMax: options.logBytesMax ?? logBytesMaxDefault,
    tailBytes: options.outputTailBytes ?? outputTailBytesDefault,
  });
  const env = attemptEnv(request, junitPath);
  const start = async (): Promise<Started> => {
    if (timing !== null) timing.startAt ??= performance.now();
    const chaos = options.chaos?.();
    const timeoutMs = attemptTimeoutMs(request.template.timeoutSec, chaos);
    const run = await runProcessGroup({
      command: request.template.command,
      cwd,
      env,
      timeoutMs,
      killGraceMs: options.killGraceMs ?? killGraceMsDefault,
      capture,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...groupHooks(options.onStarted, chaos),
    });
    chaos?.ended();
    if (timing !== null) {
      timing.spawnMs += run.spawnMs ?? 0;
      timing.afterExitMs = run.afterExitMs ?? 0;
      timing.started = run.started;
    }
    return { run, chaos, timeoutMs };
  };
  const { run, chaos, timeoutMs, retries } = await startWithRetries(start, options);
  if (timing !== null) timing.ranAt = performance.now();
  await capture.close();
  const observed = {
    exitCode: run.exitCode,
    signal: run.signal,
    outputTail: capture.tail(),
    logBytes: capture.logBytes,
    ...(retries > 0 ? { spawnRetries: retries } : {}),
  };

  if (run.spawnError !== undefined) {
    const tried = retries > 0 ? ` (started ${retries + 1} times in place, ${spawnRetryWaitsMs(retries)} ms apart)` : '';
    return infra('spawn-error', `cannot start /bin/sh -c: ${run.spawnError}${tried}`, observed);
  }
  if (run.cancelled) {
    const how = run.started ? `cancelled; ${ended(run)}` : 'cancelled before the command started';
    return infra('cancelled', how, observed);
  }
  if (run.timedOut) {
    const how = run.killedByUs ? `SIGKILL after a ${options.killGraceMs ?? killGraceMsDefault} ms grace` : 'SIGTERM';
    const after = chaos?.timeoutAfterMs === timeoutMs ? `${timeoutMs} ms (a timeout injected by chaos hooks)` : `${request.template.timeoutSec} s`;
    return infra('timeout', `timed out after ${after}; process group ended by ${how}`, observed);
  }
  if (chaos?.crashed() === true && run.signal === 'SIGKILL') {
    return infra('crash', `killed by signal SIGKILL (a crash injected by chaos hooks ${chaos.delayMs} ms after the start)`, observed);
  }
  if (run.signal !== '') {
    // The kernel OOM killer sends SIGKILL; V8 aborts (SIGABRT, or SIGTRAP on some builds).
    if (capture.mentionsOutOfMemory && oomSignals.has(run.signal)) {
      return infra('out-of-memory', `killed by ${run.signal}; the output mentions running out of memory`, observed);
    }
    return infra('crash', `killed by signal ${run.signal}${signalHint(run.signal)}`, observed);
  }

  const report = await readReport(junitPath);
  if (report.kind === 'missing') {
    if (capture.mentionsOutOfMemory && run.exitCode !== 0) {
      return infra(
        'out-of-memory',
        `exit code ${run.exitCode}${exitHint(run.exitCode)}, no JUnit report, and the output mentions running out of memory`,
        observed,
      );
    }
    const reason =
      run.exitCode === 0
        ? `the command exited 0 but wrote no JUnit report at $TESTUDO_JUNIT (${junitPath})`
        : `exit code ${run.exitCode}${exitHint(run.exitCode)} and no JUnit report at $TESTUDO_JUNIT (${junitPath})`;
    return infra('missing-report', reason, observed);
  }
  if (report.kind === 'malformed') {
    return infra('malformed-report', `${report.reason} (exit code ${run.exitCode})`, observed);
  }

  const { counts } = report.result;
  const tests = boundFailureText(report.result.tests);
  const failing = counts.failed + counts.error;
  let outcome: 'passed' | 'failed' = 'passed';
  let reason = '';
  if (failing > 0) {
    outcome = 'failed';
    const errors = counts.error > 0 ? ` (${counts.error} with errors)` : '';
    reason = `${failing} of ${counts.total} tests failed${errors}; exit code ${run.exitCode}`;
  } else if (run.exitCode !== 0) {
    outcome = 'failed';
    const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : '';
    reason =
      counts.total === 0
        ? `exit code ${run.exitCode} with an empty JUnit report`
        : `exit code ${run.exitCode} with all ${counts.passed} tests passing${skipped}`;
  }
  return {
    ...base,
    outcome,
    infraClass: '',
    reason,
    exitCode: run.exitCode,
    signal: '',
    finishedAtMs: now(),
    tests,
    outputTail: observed.outputTail,
    logBytes: observed.logBytes,
    ...(retries > 0 ? { spawnRetries: retries } : {}),
  };
}

/** One start of the command: how it ended, the chaos drawn for it, and the timeout it ran under. */
interface Started {
  readonly run: GroupRunOutcome;
  readonly chaos: AttemptChaos | undefined;
  readonly timeoutMs: number;
}

/**
 * Starts the command, and while it could not be started (nothing ran) tries
 * again, up to the attempt's spawn retries, after 100 ms, 200 ms, …; a
 * cancel during a wait ends the waiting, and the next start answers
 * cancelled (docs/recovery.md, "Spawn retries in place").
 */
async function startWithRetries(start: () => Promise<Started>, options: ExecutorOptions): Promise<Started & { readonly retries: number }> {
  const allowed = Math.max(0, Math.min(spawnRetriesMax, Math.floor(options.spawnRetries ?? 0)));
  let started = await start();
  let retries = 0;
  while (started.run.spawnError !== undefined && retries < allowed) {
    await pauseUnlessAborted(spawnRetryDelayMs * 2 ** retries, options.signal);
    retries++;
    started = await start();
  }
  return { ...started, retries };
}

/** The waits between `retries` spawn retries, for the reason text: "100, 200". */
function spawnRetryWaitsMs(retries: number): string {
  return Array.from({ length: retries }, (_, i) => spawnRetryDelayMs * 2 ** i).join(', ');
}

/** Resolves after ms, or at once when the signal aborts. */
function pauseUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The task's timeout in ms (0: none), or the chaos hooks' earlier one. */
function attemptTimeoutMs(timeoutSec: number, chaos: AttemptChaos | undefined): number {
  const taskMs = timeoutSec * 1000;
  const chaosMs = chaos?.timeoutAfterMs ?? null;
  if (chaosMs === null) return taskMs;
  return taskMs <= 0 ? chaosMs : Math.min(taskMs, chaosMs);
}

/** The process-group callbacks: the caller's observer, plus the chaos hooks' (spawn error, group tracking). */
function groupHooks(onStarted: ((pid: number) => void) | undefined, chaos: AttemptChaos | undefined): Pick<GroupRunOptions, 'onStarted' | 'onExited' | 'injectSpawnError'> {
  if (chaos === undefined) return onStarted === undefined ? {} : { onStarted };
  return {
    onStarted: (pid) => {
      chaos.started(pid);
      onStarted?.(pid);
    },
    onExited: () => chaos.ended(),
    ...(chaos.spawnError === null ? {} : { injectSpawnError: chaos.spawnError }),
  };
}

/**
 * Keeps the failure text of a result within {@link resultFailureTextBytesMax}:
 * once spent, later failures keep a short message and no details.
 */
export function boundFailureText(tests: readonly TestCaseResult[], budget = resultFailureTextBytesMax): TestCaseResult[] {
  let left = budget;
  return tests.map((test) => {
    if (test.message === '' && test.details === '') return test;
    const bytes = Buffer.byteLength(test.message) + Buffer.byteLength(test.details);
    if (bytes <= left) {
      left -= bytes;
      return test;
    }
    left = 0;
    return {
      ...test,
      message: truncateUtf8(test.message, overBudgetMessageBytes),
      details: test.details === '' ? '' : truncationMarker,
    };
  });
}

type ReportRead =
  | { kind: 'missing' }
  | { kind: 'malformed'; reason: string }
  | { kind: 'ok'; result: JUnitParseResult };

async function readReport(junitPath: string): Promise<ReportRead> {
  let size: number;
  try {
    const info = statSync(junitPath);
    if (!info.isFile()) return { kind: 'malformed', reason: `$TESTUDO_JUNIT (${junitPath}) is not a regular file` };
    size = info.size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'malformed', reason: `cannot read the JUnit report: ${errorText(err)}` };
  }
  if (size > junitReportBytesMax) {
    return { kind: 'malformed', reason: `the JUnit report is ${size} bytes, over the ${junitReportBytesMax}-byte limit` };
  }
  try {
    const xml = size <= junitReportReadInPlaceBytesMax ? readFileSync(junitPath, 'utf8') : await readFile(junitPath, 'utf8');
    return { kind: 'ok', result: parseJUnitXml(xml, { file: junitPath }) };
  } catch (err) {
    if (err instanceof JUnitParseError) return { kind: 'malformed', reason: err.reason };
    return { kind: 'malformed', reason: `cannot read the JUnit report: ${errorText(err)}` };
  }
}

function directoryProblem(dir: string): string | undefined {
  try {
    const info = statSync(dir);
    return info.isDirectory() ? undefined : 'is not a directory';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : `cannot be used: ${errorText(err)}`;
  }
}

function ended(run: GroupRunOutcome): string {
  if (run.signal !== '') return `the command ended by ${run.signal}`;
  if (run.exitCode !== null) return `the command exited ${run.exitCode}`;
  return 'the command did not start';
}

const oomSignals = new Set(['SIGKILL', 'SIGABRT', 'SIGTRAP']);

function signalHint(signal: string): string {
  if (signal === 'SIGKILL') return ' (not sent by the worker: perhaps the kernel OOM killer or an operator)';
  return '';
}

/** `sh` reports a command killed by signal N as exit code 128+N. */
function exitHint(code: number | null): string {
  if (code === null || code <= 128 || code > 128 + 64) return '';
  const name = Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0];
  return name !== undefined ? ` (the shell's code for a command killed by ${name})` : '';
}

function validEnvName(name: string): boolean {
  return name !== '' && !name.includes('=') && !name.includes('\0');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
