// The worker's process launcher: a small Node process, forked once, that
// starts the tasks' commands on the worker's behalf.
//
// Why: Node starts a child with fork() + exec(), and fork() copies the page
// tables of the whole parent. A worker holds its gRPC sessions, its outbox
// and its heap (about 115 MB resident); forking it costs milliseconds of CPU
// and blocks its event loop until the child has exec'd, and every page the
// worker writes afterwards takes a copy-on-write fault. The launcher holds
// next to nothing (no gRPC, no outbox, a 1 MB young generation), so the same
// fork is cheaper and the worker's loop never waits for one
// (docs/operations.md, "The process launcher").
//
// Protocol (Node's IPC channel, JSON): the worker sends `run` and `cancel`;
// the launcher answers `started` (the group's pid), `exited` (the shell
// exited) and `done` (the outcome and the captured output). The worker keeps
// the pid, so it can signal the group itself (chaos hooks, orphan records)
// and kill it if the launcher dies under a running command.

import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { killProcessGroup, type CapturedOutput, type CapturedRun, type CapturedRunOptions, type GroupRunOutcome } from './process-group.js';

/** The worker's request for one run: CapturedRunOptions without its callbacks and signal. */
export type LaunchRequest = Omit<CapturedRunOptions, 'signal' | 'onStarted' | 'onExited'>;

export type LauncherRequest =
  | { readonly type: 'run'; readonly id: number; readonly run: LaunchRequest }
  | { readonly type: 'cancel'; readonly id: number };

export type LauncherEvent =
  | { readonly type: 'started'; readonly id: number; readonly pid: number }
  | { readonly type: 'exited'; readonly id: number }
  | { readonly type: 'done'; readonly id: number; readonly run: GroupRunOutcome; readonly output: CapturedOutput };

/** Node flags of the launcher: a small young generation keeps the pages it writes between forks few. */
export const launcherExecArgv: readonly string[] = ['--max-semi-space-size=1'];

const noOutput: CapturedOutput = { tail: '', logBytes: 0, mentionsOutOfMemory: false };
const notStarted = { exitCode: null, signal: '', timedOut: false, killedByUs: false, started: false } as const;

interface InFlight {
  readonly child: ChildProcess;
  readonly hooks: Pick<CapturedRunOptions, 'signal' | 'onStarted' | 'onExited'>;
  readonly resolve: (run: LaunchedRun) => void;
  readonly onAbort: () => void;
  /** The group's pid, once the launcher has started it. */
  pid: number | undefined;
}

/** A run's outcome; `launcherLost` says the launcher died under the running command (its group was killed). */
export type LaunchedRun = CapturedRun & { readonly launcherLost?: string };

/**
 * Runs process groups through a launcher process, started on the first run
 * and again on the first run after it died. A launcher that dies under
 * running commands ends their runs: each group is killed (nobody watches it
 * any more) and its run reports `launcherLost`; a run it had not started
 * reports a spawn error.
 */
export class ProcessLauncher {
  private child: ChildProcess | null = null;
  private readonly inFlight = new Map<number, InFlight>();
  private readonly gone = new WeakSet<ChildProcess>();
  private nextId = 1;
  private closed = false;
  private startsValue = 0;

  /** `onLost` hears of each launcher that died (not of one closed idle). */
  constructor(private readonly onLost?: (text: string) => void) {}

  /** Launcher processes started so far (1 while the first one lives). */
  get starts(): number {
    return this.startsValue;
  }

  /** The live launcher's pid, if one runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  run(options: CapturedRunOptions): Promise<LaunchedRun> {
    const { signal, onStarted, onExited, ...request } = options;
    if (signal?.aborted === true) return Promise.resolve({ run: { ...notStarted, cancelled: true }, output: noOutput });
    if (this.closed) return Promise.resolve({ run: { ...notStarted, cancelled: false, spawnError: 'the worker is stopping' }, output: noOutput });
    let child: ChildProcess;
    try {
      child = this.ensureChild();
    } catch (error) {
      return Promise.resolve({ run: { ...notStarted, cancelled: false, spawnError: `cannot start the process launcher: ${errorText(error)}` }, output: noOutput });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const onAbort = (): void => this.send(child, { type: 'cancel', id });
      this.inFlight.set(id, { child, hooks: { signal, onStarted, onExited }, resolve, onAbort, pid: undefined });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.send(child, { type: 'run', id, run: request });
    });
  }

  /** Ends the launcher (it exits when its channel closes); runs still in flight end as when it dies. */
  close(): void {
    this.closed = true;
    const child = this.child;
    if (child !== null && child.connected) child.disconnect();
  }

  private ensureChild(): ChildProcess {
    if (this.child !== null && this.child.connected) return this.child;
    const [entry, execArgv] = launcherEntry();
    const child = fork(entry, [], { execArgv: [...execArgv, ...launcherExecArgv], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    this.startsValue++;
    this.child = child;
    child.on('message', (message: LauncherEvent) => this.onEvent(child, message));
    child.once('error', (error) => this.lost(child, `the process launcher failed: ${errorText(error)}`));
    child.once('exit', (code, sig) => this.lost(child, `the process launcher (pid ${child.pid}) exited (${sig ?? `code ${code}`})`));
    return child;
  }

  private send(child: ChildProcess, request: LauncherRequest): void {
    if (!child.connected) return this.lost(child, 'the process launcher is gone');
    child.send(request, (error) => {
      if (error !== null && error !== undefined) this.lost(child, `cannot reach the process launcher: ${error.message}`);
    });
  }

  private finish(id: number, entry: InFlight, run: LaunchedRun): void {
    this.inFlight.delete(id);
    entry.hooks.signal?.removeEventListener('abort', entry.onAbort);
    entry.resolve(run);
  }

  private onEvent(child: ChildProcess, event: LauncherEvent): void {
    const entry = this.inFlight.get(event.id);
    if (entry === undefined || entry.child !== child) return;
    if (event.type === 'started') {
      entry.pid = event.pid;
      try {
        entry.hooks.onStarted?.(event.pid);
      } catch {
        // a failing observer must not leave the process unwatched
      }
    } else if (event.type === 'exited') {
      entry.hooks.onExited?.();
    } else {
      this.finish(event.id, entry, { run: event.run, output: event.output });
    }
  }

  /** The launcher `child` is gone (its exit, an error, a closed channel: whichever comes first): every run it held ends now. */
  private lost(child: ChildProcess, text: string): void {
    if (this.gone.has(child)) return;
    this.gone.add(child);
    if (this.child === child) this.child = null;
    if (child.connected) child.disconnect();
    let running = 0;
    for (const [id, entry] of this.inFlight) {
      if (entry.child !== child) continue;
      if (entry.pid === undefined) {
        this.finish(id, entry, { run: { ...notStarted, cancelled: false, spawnError: text }, output: noOutput });
        continue;
      }
      running++;
      killProcessGroup(entry.pid, 'SIGKILL');
      entry.hooks.onExited?.();
      this.finish(id, entry, { run: { exitCode: null, signal: 'SIGKILL', timedOut: false, cancelled: false, killedByUs: true, started: true }, output: noOutput, launcherLost: text });
    }
    if (!this.closed || running > 0) this.onLost?.(running > 0 ? `${text}; the process groups of ${running} running commands killed` : text);
  }
}

/**
 * How to start the launcher: its built JavaScript next to this module, or
 * (tests, `npm start`) the TypeScript source through tsx, or the build a test
 * run names in TESTUDO_BUILT_CLI (local-cluster.ts, testudoCommand).
 */
export function launcherEntry(): [string, string[]] {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return [join(dirname(here), 'launcher-main.js'), []];
  const built = process.env.TESTUDO_BUILT_CLI;
  if (built !== undefined && built !== '') return [join(dirname(dirname(built)), 'worker', 'launcher-main.js'), []];
  return [join(dirname(here), 'launcher-main.ts'), ['--import', 'tsx']];
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
