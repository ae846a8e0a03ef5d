// A command run as `/bin/sh -c <command>` in its own process group: its output
// captured, a timeout and a cancel turned into SIGTERM to the group and SIGKILL
// after a grace period, and whatever is left of the group killed once the shell
// exits. The worker's executor runs it through its process launcher
// (launcher.ts), setup commands run it in the worker itself.

import { spawn } from 'node:child_process';
import { OutputCapture } from './output-capture.js';
import { pipeDrainMsMax } from './limits.js';

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
  try {
    child = spawn('/bin/sh', ['-c', options.command], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    return { ...idle, cancelled: false, spawnError: errorText(err) };
  }

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
  exited = true;
  options.onExited?.();
  clearTimeout(timeoutTimer);
  clearTimeout(graceTimer);
  signal?.removeEventListener('abort', onAbort);

  if (end.error !== undefined && pid === undefined) {
    child.stdout?.destroy();
    child.stderr?.destroy();
    return { ...idle, cancelled: false, spawnError: end.error };
  }
  // No member of the group outlives the attempt.
  if (pid !== undefined) killProcessGroup(pid, 'SIGKILL');
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([drained, new Promise<void>((resolve) => (drainTimer = setTimeout(resolve, pipeDrainMsMax)))]);
  clearTimeout(drainTimer);
  child.stdout?.destroy();
  child.stderr?.destroy();

  return { exitCode: end.code, signal: end.sig ?? '', timedOut, cancelled, killedByUs, started: true };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What an attempt keeps of its command's output (output-capture.ts). */
export interface CapturedOutput {
  /** The last bytes of the interleaved stdout and stderr. */
  readonly tail: string;
  /** Bytes written to the log file (marker included). */
  readonly logBytes: number;
  readonly mentionsOutOfMemory: boolean;
}

/** A process group run whose output goes to a log file and a tail (the capture made here, not by the caller). */
export interface CapturedRunOptions extends Omit<GroupRunOptions, 'capture'> {
  readonly logPath: string;
  readonly logBytesMax: number;
  readonly tailBytes: number;
}

export interface CapturedRun {
  readonly run: GroupRunOutcome;
  readonly output: CapturedOutput;
}

/** Runs the group with its own output capture, closed before this resolves. */
export async function runCaptured(options: CapturedRunOptions): Promise<CapturedRun> {
  const { logPath, logBytesMax, tailBytes, ...rest } = options;
  const capture = new OutputCapture({ logPath, logBytesMax, tailBytes });
  const run = await runProcessGroup({ ...rest, capture });
  await capture.close();
  return { run, output: { tail: capture.tail(), logBytes: capture.logBytes, mentionsOutOfMemory: capture.mentionsOutOfMemory } };
}
