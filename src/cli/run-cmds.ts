// `testudo runs …` and `testudo workers …`: inspect, cancel and report runs,
// list, drain and release workers; the formatters `testudo run` shares.
import type { Command } from 'commander';
import { NotFoundError, TestudoClient, type TestudoClientOptions, type WorkerInfo } from '../client/index.js';
import type { AttemptView, RunState, RunSummary, RunView, TaskView } from '../model/types.js';
import { parseAttemptId } from '../model/index.js';
import { suiteLabel } from '../report/merge.js';
import type { RunReportJson } from '../report/summary.js';
import { CLASSNAME_POLICIES, type ClassnamePolicy } from '../report/merge.js';
import { writeReports, type ReportPaths, type WriteReportsOptions } from '../report/write-reports.js';
import { connectionOf, realClient, withCluster, withConnectOptions, type ConnectOptions } from './connect.js';
import { ExitCode, ExitError, UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { loadTls, tlsFilesOf, type TlsFlagValues } from './tls-flags.js';
import { httpsGet } from '../security/tls-http.js';

/** Exit codes of these commands (docs/cli.md#exit-codes). */
export const RunExitCode = { ok: ExitCode.ok, failed: ExitCode.failed, usage: ExitCode.usage, unreachable: ExitCode.unavailable, interrupted: ExitCode.interrupted } as const;

export const DEFAULT_REPORT_DIR = 'testudo-reports';
export const FAILED_TESTS_SHOWN = 20;
/** How long `runs log` waits for a worker to send an attempt's log (at least; --wait when longer). */
export const logFetchTimeoutMs = 30_000;

/** What the commands use of TestudoClient (a fake stands in for it in tests). */
export type RunsClient = Pick<
  TestudoClient,
  'submitRun' | 'watchRun' | 'getRun' | 'listRuns' | 'cancelRun' | 'listWorkers' | 'drainWorker' | 'releaseWorker' | 'breakerConfig' | 'close'
>;

export interface SignalSource {
  on(event: 'SIGINT', listener: () => void): unknown;
  off(event: 'SIGINT', listener: () => void): unknown;
}

/** The process around the commands, injectable for tests. */
export interface RunCommandsEnv {
  /** Whether stderr, where progress goes, is a terminal (default `process.stderr.isTTY`). */
  readonly isTTY?: () => boolean;
  /** Terminal columns (default `process.stderr.columns`, else 80). */
  readonly columns?: () => number;
  readonly now?: () => number;
  /** Where SIGINT comes from (default `process`). */
  readonly signals?: SignalSource;
  readonly createClient?: (options: TestudoClientOptions) => RunsClient;
  /** Plain progress: at most one line per this interval (default 2000). */
  readonly progressIntervalMs?: number;
  /** Environment variables (default `process.env`). */
  readonly vars?: NodeJS.ProcessEnv;
}

export type { ConnectOptions };

/**
 * Runs `fn` with a client of the cluster the flags name (see connect.ts); an
 * unknown run or worker (NotFoundError) ends the command with `notFound` on
 * stderr and exit 1.
 */
export async function withRunsClient<T>(
  env: RunCommandsEnv,
  io: CliIo,
  options: ConnectOptions,
  notFound: string,
  fn: (client: RunsClient) => Promise<T>,
  operationMs = 0,
): Promise<T> {
  const connection = connectionOf(options, io.err, env.vars ?? process.env);
  return withCluster(
    connection,
    env.createClient ?? realClient,
    async (client) => {
      try {
        return await fn(client);
      } catch (error) {
        if (!(error instanceof NotFoundError) || notFound === '') throw error;
        io.err(`testudo: ${notFound}\n`);
        throw new ExitError(RunExitCode.failed);
      }
    },
    operationMs,
  );
}

// ------------------------------------------------------------------ formatting

/** Left-aligned columns two spaces apart, trailing spaces trimmed. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** `850ms`, `12.3s`, `4m05s`, `1h02m03s`; `-` for a negative or non-finite duration. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m${s}s` : `${m}m${s}s`;
}

function iso(ms: number): string {
  return ms > 0 ? new Date(ms).toISOString() : '-';
}

/** One line, at most `max` characters (an ellipsis marks a cut). */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, Math.max(0, max - 1))}…`;
}

function doneOf(summary: RunSummary): number {
  const c = summary.counts;
  return c.passed + c.failed + c.failedInfra + c.cancelled;
}

function runDurationMs(summary: RunSummary, nowMs: number): number {
  return (summary.finishedAtMs > 0 ? summary.finishedAtMs : nowMs) - summary.submittedAtMs;
}

/** `testudo runs list`: newest first. FAILED counts failed and failed-infra tasks. */
export function formatRunsTable(runs: readonly RunSummary[], nowMs: number): string {
  if (runs.length === 0) return 'no runs\n';
  const header = ['RUN', 'NAME', 'STATE', 'TASKS', 'PASSED', 'FAILED', 'SUBMITTED', 'DURATION'];
  const rows = [...runs]
    .sort((a, b) => b.submittedAtMs - a.submittedAtMs || (a.runId < b.runId ? -1 : 1))
    .map((r) => [
      r.runId,
      oneLine(r.name, 40),
      r.state,
      `${doneOf(r)}/${r.counts.tasks}`,
      String(r.counts.passed),
      String(r.counts.failed + r.counts.failedInfra),
      iso(r.submittedAtMs),
      formatDuration(runDurationMs(r, nowMs)) + (r.finishedAtMs > 0 ? '' : '+'),
    ]);
  return formatTable(header, rows);
}

function attemptDurationMs(a: AttemptView, nowMs: number): number | undefined {
  if (a.result !== undefined) return Math.max(0, a.result.finishedAtMs - a.result.startedAtMs);
  return a.state === 'running' ? Math.max(0, nowMs - a.assignedAtMs) : undefined;
}

/** The last attempt's duration (worker clock when reported; elapsed since assignment while running). */
function taskDuration(task: TaskView, nowMs: number): string {
  const last = [...task.attempts].sort((a, b) => a.number - b.number).at(-1);
  const ms = last === undefined ? undefined : attemptDurationMs(last, nowMs);
  return ms === undefined ? '-' : formatDuration(ms);
}

function taskReason(task: TaskView): string {
  if (task.reason !== '') return task.reason;
  if (task.state !== 'failed') return '';
  const last = [...task.attempts].sort((a, b) => a.number - b.number).at(-1);
  return last?.result?.reason || last?.reason || '';
}

function attemptWorker(a: AttemptView): string {
  return a.workerId || a.result?.workerId || '-';
}

function infraClassOf(a: AttemptView): string {
  if (a.result?.infraClass) return a.result.infraClass;
  if (a.state === 'lost') return 'lost-worker';
  if (a.state === 'cancelled') return 'cancelled';
  return '-';
}

/** `--explain`: one line per attempt of a task. */
export function formatAttemptLine(a: AttemptView, nowMs: number): string {
  const ms = attemptDurationMs(a, nowMs);
  const exit = a.result === undefined ? '' : a.result.signal !== '' ? ` signal ${a.result.signal}` : a.result.exitCode === null ? '' : ` exit ${a.result.exitCode}`;
  const reason = a.result?.reason || a.reason;
  const late = a.lateResults > 0 ? ` (${a.lateResults} late result${a.lateResults === 1 ? '' : 's'} ignored)` : '';
  const retried = a.result?.spawnRetries ?? 0;
  const respawned = retried > 0 ? `  (${retried} spawn retr${retried === 1 ? 'y' : 'ies'} in place)` : '';
  const because = a.hedge === true && a.hedgedBecause ? `\n      hedged because ${oneLine(a.hedgedBecause, 200)}` : '';
  return (
    `    attempt ${a.number} ${a.attemptId}${a.hedge === true ? ' (hedge)' : ''}  worker ${attemptWorker(a)}  ${a.state}${exit}  infra ${infraClassOf(a)}` +
    `  ${ms === undefined ? '-' : formatDuration(ms)}${reason === '' ? '' : `  ${oneLine(reason, 120)}`}${respawned}${late}${because}`
  );
}

/** The header of `testudo runs show`. */
export function formatRunHeader(run: RunSummary, nowMs: number): string {
  const c = run.counts;
  return [
    `run ${run.runId}  ${run.name}`,
    `state: ${run.state}${run.degraded ? ' (degraded: a task was given up after infrastructure failures)' : ''}`,
    `submitted: ${iso(run.submittedAtMs)}  finished: ${iso(run.finishedAtMs)}  duration: ${formatDuration(runDurationMs(run, nowMs))}${run.finishedAtMs > 0 ? '' : ' (running)'}`,
    `tasks: ${doneOf(run)}/${c.tasks} done  passed ${c.passed}, failed ${c.failed}, infra ${c.failedInfra}, cancelled ${c.cancelled}, running ${c.running}, queued ${c.queued}`,
  ].join('\n') + '\n';
}

/** `testudo runs show`: the header and one row per task; `explain` adds each attempt under its task. */
export function formatRunView(run: RunView, options: { explain: boolean; nowMs: number }): string {
  const header = ['TASK', 'SUITE', 'SHARD', 'STATE', 'ATTEMPTS', 'WORKERS', 'DURATION', 'REASON'];
  const rows = run.tasks.map((t) => [
    t.taskId,
    suiteLabel(t.template),
    `${t.template.shard}/${t.template.shardCount}`,
    t.state,
    String(t.attempts.length),
    [...new Set(t.attempts.map(attemptWorker))].join(',') || '-',
    taskDuration(t, options.nowMs),
    oneLine(taskReason(t), 80),
  ]);
  const table = run.tasks.length === 0 ? 'no tasks\n' : formatTable(header, rows);
  if (!options.explain || run.tasks.length === 0) return `${formatRunHeader(run, options.nowMs)}\n${table}`;
  const lines = table.trimEnd().split('\n');
  const out = [lines[0] ?? ''];
  run.tasks.forEach((task, i) => {
    out.push(lines[i + 1] ?? '');
    const attempts = [...task.attempts].sort((a, b) => a.number - b.number);
    if (attempts.length === 0) out.push('    (no attempts yet)');
    for (const a of attempts) {
      out.push(formatAttemptLine(a, options.nowMs));
      // Why the next attempt went where it did (the recovery ladder's decision after this attempt's failure).
      for (const d of task.decisions.filter((x) => x.attemptId === a.attemptId)) {
        out.push(`        ↳ recovery level ${d.level} ${d.action} (${d.failureClass} on ${d.workerId}): ${oneLine(d.reason, 300)}`);
      }
    }
  });
  return `${formatRunHeader(run, options.nowMs)}\n${out.join('\n')}\n`;
}

/** `512M`, `15.6G`. */
export function formatMemory(mb: number): string {
  if (!Number.isFinite(mb) || mb <= 0) return '-';
  return mb < 1024 ? `${Math.round(mb)}M` : `${(mb / 1024).toFixed(1)}G`;
}

/** `k=v,k=v`, keys sorted. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels).sort();
  return keys.length === 0 ? '-' : keys.map((k) => `${k}=${labels[k] ?? ''}`).join(',');
}

/** `testudo workers list`, by worker id. */
export function formatWorkersTable(workers: readonly WorkerInfo[]): string {
  if (workers.length === 0) return 'no workers\n';
  const header = ['WORKER', 'NAME', 'STATE', 'CONNECTED', 'BREAKER', 'SERVICE', 'SLOTS', 'LABELS', 'CPUS', 'MEMORY'];
  const rows = [...workers]
    .sort((a, b) => (a.workerId < b.workerId ? -1 : a.workerId > b.workerId ? 1 : 0))
    .map((w) => [
      w.workerId,
      w.name || '-',
      w.state,
      w.connected ? 'yes' : 'no',
      w.resetting ? `${w.breakerState} (resetting)` : w.breakerState,
      w.service === '' ? '-' : w.service,
      `${w.running.length}/${w.slots}`,
      formatLabels(w.labels),
      String(w.cpus),
      formatMemory(w.memoryMb),
    ]);
  return formatTable(header, rows);
}

/** The end-of-run summary `testudo run` prints (without --json). */
/** `--junit-classname` (run, runs report): the class each JUnit case is reported under. */
export function withReportOptions(cmd: Command): Command {
  return cmd.option(
    '--junit-classname <policy>',
    `the class of each JUnit case: ${CLASSNAME_POLICIES.join('|')} (auto: the test's file, or its suite, where the runner writes a generic class; docs/reports.md)`,
    'auto',
  );
}

/** The report options of --junit-classname; log links use https when this command talks TLS (the workers then serve logs over HTTPS). */
export function reportOptionsOf(options: { junitClassname?: string } & TlsFlagValues, vars: NodeJS.ProcessEnv = process.env): WriteReportsOptions {
  const classname = options.junitClassname ?? 'auto';
  if (!(CLASSNAME_POLICIES as readonly string[]).includes(classname)) throw new UsageError(`--junit-classname must be one of ${CLASSNAME_POLICIES.join(', ')}, got "${classname}"`);
  return { classname: classname as ClassnamePolicy, logScheme: tlsFilesOf(options, vars) === null ? 'http' : 'https' };
}

/** One indented line per report file, in a fixed order. */
export function reportPathLines(paths: ReportPaths): string[] {
  return [`  junit     ${paths.junit}`, `  json      ${paths.json}`, `  markdown  ${paths.markdown}`, `  html      ${paths.html}`, `  ctrf      ${paths.ctrf}`];
}

export function formatRunReport(summary: RunReportJson, paths: ReportPaths | null): string {
  const t = summary.totals;
  const out: string[] = [];
  out.push(`run ${summary.runId} (${summary.name}): ${summary.state}`);
  const failed = t.failed + t.errors;
  out.push(
    `tests:    ${t.tests} total, ${t.passed} passed, ${failed} failed${t.errors > 0 ? ` (${t.errors} error${t.errors === 1 ? '' : 's'})` : ''}, ${t.flaky} flaky, ${t.skipped} skipped`,
  );
  out.push(
    `tasks:    ${t.tasks} total, ${t.tasksPassed} passed, ${t.tasksFailed} failed, ${t.tasksFailedInfra} infra, ${t.tasksCancelled} cancelled (${t.attempts} attempts, ${t.retries} retries)`,
  );
  out.push(`duration: ${summary.durationSec === null ? '-' : formatDuration(summary.durationSec * 1000)}`);
  if (summary.failedTests.length > 0) {
    out.push('', `failed tests (${summary.failedTests.length}):`);
    for (const f of summary.failedTests.slice(0, FAILED_TESTS_SHOWN)) {
      const tries = f.attempts > 1 ? ` [${f.attempts} attempts]` : '';
      out.push(`  ✗ ${f.suite}  ${f.id}${tries}${f.message === '' ? '' : `: ${oneLine(f.message, 120)}`}`);
    }
    const more = summary.failedTests.length - FAILED_TESTS_SHOWN;
    if (more > 0) out.push(`  … and ${more} more (see the reports)`);
  }
  if (summary.flakyTests.length > 0) {
    out.push('', `flaky tests (${summary.flakyTests.length}):`);
    for (const f of summary.flakyTests.slice(0, FAILED_TESTS_SHOWN)) {
      const rate = f.flakinessRate === null ? '' : `, flaky in ${Math.round(f.flakinessRate * 100)}% of recent runs`;
      out.push(`  ~ ${f.suite}  ${f.id} (passed after ${f.attempts} attempts${rate})`);
    }
    const more = summary.flakyTests.length - FAILED_TESTS_SHOWN;
    if (more > 0) out.push(`  … and ${more} more (see the reports)`);
  }
  if (paths !== null) {
    out.push('', 'reports:', ...reportPathLines(paths));
  }
  return `${out.join('\n')}\n`;
}

/** `openBaseMs=5000,window=count:50` → the settings object (numbers; window as {kind, size|windowMs}). */
export function parseBreakerSettings(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set: "${pair}" is not key=value`);
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (key === 'window') {
      const m = /^(count|time):(\d+)$/.exec(value);
      if (m === null) throw new UsageError(`--set: window must be count:N or time:MS, got "${value}"`);
      out[key] = m[1] === 'count' ? { kind: 'count', size: Number(m[2]) } : { kind: 'time', windowMs: Number(m[2]) };
      continue;
    }
    if (key === 'adaptiveRecovery') {
      if (value !== 'true' && value !== 'false') throw new UsageError(`--set: adaptiveRecovery must be true or false, got "${value}"`);
      out[key] = value === 'true';
      continue;
    }
    const n = Number(value);
    if (value === '' || !Number.isFinite(n)) throw new UsageError(`--set: ${key} must be a number, got "${value}"`);
    out[key] = n;
  }
  return out;
}

/** The run an attempt id belongs to (`<runId>.t<n>.a<k>`). */
export function runIdOfAttempt(attemptId: string): string {
  const parts = parseAttemptId(attemptId);
  if (parts === undefined) throw new UsageError(`"${attemptId}" is not an attempt id (<runId>.t<n>.a<k>)`);
  return parts.runId;
}

export function exitCodeForState(state: RunState): number {
  return state === 'passed' ? RunExitCode.ok : RunExitCode.failed;
}

// ------------------------------------------------------------------ registration

/** `testudo runs …` and `testudo workers …`. */
export function registerRunsCommands(program: Command, io: CliIo, env: RunCommandsEnv = {}): void {
  const now = env.now ?? Date.now;

  const runs = program.command('runs').description('list, inspect, cancel and report runs');
  withConnectOptions(runs.command('list').description('every run the cluster knows, newest first'))
    .option('--json', 'print JSON instead of a table')
    .action(async (options: ConnectOptions & { json?: boolean }) => {
      const list = await withRunsClient(env, io, options, '', (c) => c.listRuns());
      io.out(options.json === true ? `${JSON.stringify(list, null, 2)}\n` : formatRunsTable(list, now()));
    });
  withConnectOptions(runs.command('show').description("a run's tasks (and with --explain every attempt)").argument('<runId>'))
    .option('--json', 'print the full run as JSON')
    .option('--explain', 'add each attempt (worker, state, infrastructure class, reason) and the recovery decision that followed it')
    .action(async (runId: string, options: ConnectOptions & { json?: boolean; explain?: boolean }) => {
      const run = await withRunsClient(env, io, options, `no run ${runId}`, (c) => c.getRun(runId));
      io.out(options.json === true ? `${JSON.stringify(run, null, 2)}\n` : formatRunView(run, { explain: options.explain === true, nowMs: now() }));
    });
  withConnectOptions(runs.command('cancel').description('cancel a run: queued tasks are dropped, running attempts stopped').argument('<runId>'))
    .option('--reason <text>', 'recorded with the cancellation', 'cancelled from the command line')
    .action(async (runId: string, options: ConnectOptions & { reason: string }) => {
      const result = await withRunsClient(env, io, options, `no run ${runId}`, (c) => c.cancelRun(runId, options.reason));
      io.out(`run ${runId}: ${result.state} (${result.cancelledAttempts} running attempt${result.cancelledAttempts === 1 ? '' : 's'} cancelled)\n`);
    });
  withReportOptions(withConnectOptions(runs.command('report').description('write the five reports (JUnit, JSON, Markdown, HTML, CTRF) of a finished run').argument('<runId>')))
    .option('--report-dir <dir>', 'where to write them', DEFAULT_REPORT_DIR)
    .action(async (runId: string, options: ConnectOptions & { reportDir: string; junitClassname?: string }) => {
      const reportOptions = reportOptionsOf(options, env.vars ?? process.env);
      const run = await withRunsClient(env, io, options, `no run ${runId}`, (c) => c.getRun(runId));
      if (run.state === 'running') {
        io.err(`testudo: run ${runId} is still running; its reports can be written once it ends\n`);
        throw new ExitError(RunExitCode.failed);
      }
      const paths = await writeReports(run, options.reportDir, reportOptions);
      io.out(`run ${runId} (${run.state}): reports written\n${reportPathLines(paths).join('\n')}\n`);
    });

  withConnectOptions(runs.command('log').description("print an attempt's full output log, fetched from the worker that ran it").argument('<attemptId>'))
    .action(async (attemptId: string, options: ConnectOptions) => {
      const runId = runIdOfAttempt(attemptId);
      const found = await withRunsClient(env, io, options, `no run ${runId}`, async (c) => {
        const run = await c.getRun(runId);
        const attempt = run.tasks.flatMap((t) => t.attempts).find((a) => a.attemptId === attemptId);
        const worker = attempt === undefined ? undefined : (await c.listWorkers()).find((w) => w.workerId === attempt.workerId);
        return { attempt, worker };
      });
      if (found.attempt === undefined) {
        io.err(`testudo: run ${runId} has no attempt ${attemptId}\n`);
        throw new ExitError(RunExitCode.failed);
      }
      if (found.worker === undefined || found.worker.httpAddress === '') {
        io.err(`testudo: worker ${found.attempt.workerId} serves no logs (start it with --http); the result keeps the output's tail: testudo runs show ${runId} --json\n`);
        throw new ExitError(RunExitCode.failed);
      }
      // With TLS on, workers serve their logs over HTTPS with the same CA.
      const connection = connectionOf(options, () => undefined, env.vars ?? process.env);
      const logWaitMs = Math.max(logFetchTimeoutMs, connection.target.waitMs);
      const tlsFiles = tlsFilesOf(options);
      const tls = tlsFiles === null ? null : loadTls(tlsFiles);
      const url = `${tls === null ? 'http' : 'https'}://${found.worker.httpAddress}/logs/${encodeURIComponent(attemptId)}`;
      // A worker with --auth-file asks for a readonly token (docs/security.md, "The worker's HTTP port").
      const token = connection.clientOptions.token;
      const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
      let response: Response;
      try {
        response = tls === null ? await fetch(url, { headers, signal: AbortSignal.timeout(logWaitMs) }) : await httpsGet(url, tls, { timeoutMs: logWaitMs, headers });
      } catch (error) {
        io.err(`testudo: cannot reach worker ${found.worker.workerId} at ${url}: ${(error as Error).message}\n`);
        throw new ExitError(RunExitCode.unreachable);
      }
      if (!response.ok) {
        io.err(`testudo: ${url}: ${response.status} ${(await response.text()).trim()}\n`);
        throw new ExitError(RunExitCode.failed);
      }
      io.out(await response.text());
    });

  const workers = program.command('workers').description('list, drain and release workers');
  withConnectOptions(workers.command('list').description('every registered worker'))
    .option('--json', 'print JSON instead of a table')
    .action(async (options: ConnectOptions & { json?: boolean }) => {
      const list = await withRunsClient(env, io, options, '', (c) => c.listWorkers());
      io.out(options.json === true ? `${JSON.stringify(list, null, 2)}\n` : formatWorkersTable(list));
    });
  withConnectOptions(workers.command('release').description("close a worker's circuit breaker: release it from quarantine (or --disable / --enable its breaker)").argument('<workerId>'))
    .option('--reason <text>', 'why (kept with the breaker and in the log)')
    .option('--disable', 'disable the breaker: the worker is never cut off')
    .option('--enable', 'enable a disabled breaker again')
    .action(async (workerId: string, options: ConnectOptions & { reason?: string; disable?: boolean; enable?: boolean }) => {
      if (options.disable === true && options.enable === true) throw new UsageError('--disable and --enable exclude each other');
      const mode = options.disable === true ? 'disable' : options.enable === true ? 'enable' : 'release';
      const result = await withRunsClient(env, io, options, `no worker ${workerId}`, (c) => c.releaseWorker(workerId, { reason: options.reason ?? '', mode }));
      io.out(`worker ${workerId}: breaker ${result.breaker}\n`);
    });
  withConnectOptions(workers.command('breaker-config').description("show the cluster's recovery settings (circuit breaker, ladder, adaptive threshold), or change some with --set (applied by every coordinator)"))
    .option('--set <list>', 'key=value,… e.g. openBaseMs=5000,minimumCalls=10,window=count:50 (window: count:N or time:MS), adaptiveRecovery=false; the ladder and threshold keys too (retryBackoffMs, fleetHoldsMax, thresholdK, …: docs/recovery.md)')
    .action(async (options: ConnectOptions & { set?: string }) => {
      const change = options.set === undefined ? undefined : parseBreakerSettings(options.set);
      const config = await withRunsClient(env, io, options, '', (c) => c.breakerConfig(change));
      io.out(`${JSON.stringify(config, null, 2)}\n`);
    });
  withConnectOptions(workers.command('drain').description('stop giving a worker tasks (running ones finish), or --undrain to resume').argument('<workerId>'))
    .option('--undrain', 'put the worker back into scheduling')
    .action(async (workerId: string, options: ConnectOptions & { undrain?: boolean }) => {
      const result = await withRunsClient(env, io, options, `no worker ${workerId}`, (c) => c.drainWorker(workerId, options.undrain === true));
      io.out(`worker ${workerId}: ${result.state}\n`);
    });
}
