// `testudo run [path]`: read a spec (part of it with --suite/--exclude-suite,
// overridden with --set), submit it, follow the run with progress on stderr,
// write the reports, print the summary on stdout, exit by the run's result.
import { Option, type Command } from 'commander';
import type { RunSubmission, RunSummary } from '../model/types.js';
import { DEFAULT_SPEC_FILE, SpecError, expandSpec, loadSpec } from '../spec/index.js';
import { mergeRun } from '../report/merge.js';
import { buildSummary } from '../report/summary.js';
import { writeReports, type ReportPaths } from '../report/write-reports.js';
import { connectionOf, withCluster, realClient, withConnectOptions, type Connection, type ConnectOptions } from './connect.js';
import { ExitError, UsageError, isUnreachable } from './errors.js';
import { appendStepSummary, failureAnnotations, inGitHubActions } from './github.js';
import type { CliIo, Write } from './io.js';
import { ProgressReporter } from './progress.js';
import { DEFAULT_REPORT_DIR, RunExitCode, exitCodeForState, formatRunReport, reportOptionsOf, withReportOptions, type RunCommandsEnv, type RunsClient } from './run-cmds.js';
import { applyOverrides, selectSuites } from './spec-select.js';

/**
 * While a run goes on, how long `testudo run` follows it without a summary
 * (coordinators send one at least every second) before it gives up with
 * exit 3; --wait longer than this wins.
 */
export const followQuietMsDefault = 30_000;

export interface RunOptions extends ConnectOptions {
  /** `-f`; the positional path is the documented spelling. */
  file?: string;
  reportDir: string;
  runId?: string;
  name?: string;
  progress: boolean;
  json?: boolean;
  suite?: string[];
  excludeSuite?: string[];
  set?: string[];
  stepSummary?: boolean;
  junitClassname?: string;
}

/** What of the spec to run: which suites, and which fields to override. */
export interface SpecChoice {
  readonly suites?: readonly string[];
  readonly excludeSuites?: readonly string[];
  readonly overrides?: readonly string[];
  readonly name?: string;
}

/**
 * Loads, narrows and expands the spec; a bad or missing spec prints every
 * error on `err` and exits 2; warnings go to `err` too.
 */
export async function loadSubmission(file: string, choice: SpecChoice, err: Write): Promise<RunSubmission> {
  let parsed;
  try {
    parsed = await loadSpec(file);
  } catch (error) {
    if (!(error instanceof SpecError)) throw error;
    err(`testudo: ${error.message}\n`);
    throw new ExitError(RunExitCode.usage);
  }
  parsed = applyOverrides(selectSuites(parsed, choice.suites ?? [], choice.excludeSuites ?? []), choice.overrides ?? []);
  try {
    for (const w of parsed.warnings) err(`warning: ${w}\n`);
    const submission = await expandSpec(parsed, { onWarning: (w) => err(`warning: ${w}\n`) });
    if (choice.name === undefined) return submission;
    if (choice.name.trim() === '' || choice.name.length > 128) throw new UsageError('--name must be 1..128 characters');
    return { ...submission, name: choice.name };
  } catch (error) {
    if (!(error instanceof SpecError)) throw error;
    err(`testudo: ${error.message}\n`);
    throw new ExitError(RunExitCode.usage);
  }
}

/** The spec path: the positional argument or -f (not both), else testudo.yaml. */
export function specPathOf(positional: string | undefined, options: Pick<RunOptions, 'file'>): string {
  if (positional !== undefined && options.file !== undefined) throw new UsageError(`give the spec once: either ${positional} or -f ${options.file}`);
  return positional ?? options.file ?? DEFAULT_SPEC_FILE;
}

/**
 * Follows the run to its end, rendering progress on stderr. The first SIGINT
 * cancels the run and keeps watching; a second one stops watching (exit 130).
 */
async function watchToEnd(client: RunsClient, runId: string, err: Write, env: RunCommandsEnv, showProgress: boolean, startedAtMs: number): Promise<RunSummary | null> {
  const tty = env.isTTY?.() ?? process.stderr.isTTY === true;
  const reporter = new ProgressReporter({
    tty,
    write: showProgress ? err : () => undefined,
    columns: env.columns ?? (() => process.stderr.columns ?? 80),
    now: env.now,
    startedAtMs,
    minIntervalMs: env.progressIntervalMs,
  });
  const say = (message: string): void => (showProgress ? reporter.note(message) : err(`${message}\n`));
  const signals = env.signals ?? process;
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts += 1;
    if (interrupts === 1) {
      say(`cancelling run ${runId} (Ctrl-C again to stop watching)…`);
      client.cancelRun(runId, 'cancelled from testudo run (Ctrl-C)').then(
        (r) => say(`run ${runId}: ${r.state}, ${r.cancelledAttempts} running attempt${r.cancelledAttempts === 1 ? '' : 's'} cancelled; waiting for the run to end`),
        (e: unknown) => say(`could not cancel run ${runId}: ${e instanceof Error ? e.message : String(e)}`),
      );
    } else {
      say(`stopped watching run ${runId}; its cancellation goes on (testudo runs show ${runId})`);
      client.close();
    }
  };
  signals.on('SIGINT', onSigint);
  let last: RunSummary | null = null;
  try {
    for await (const summary of client.watchRun(runId)) {
      last = summary;
      reporter.update(summary);
    }
    reporter.finish();
    return last;
  } catch (error) {
    reporter.dispose();
    if (interrupts >= 2) throw new ExitError(RunExitCode.interrupted);
    if (isUnreachable(error)) err(`lost contact with the cluster while following run ${runId}; it may still be running (testudo runs show ${runId})\n`);
    throw error;
  } finally {
    signals.off('SIGINT', onSigint);
  }
}

/** Writes the reports, prints the summary (stdout), annotations and step summary; returns the exit code. */
async function reportRun(client: RunsClient, runId: string, options: RunOptions, io: CliIo, vars: NodeJS.ProcessEnv): Promise<number> {
  const run = await client.getRun(runId);
  const merged = mergeRun(run);
  const summary = buildSummary(run, merged);
  let paths: ReportPaths | null = null;
  let reportFailed = false;
  try {
    paths = await writeReports(run, options.reportDir, reportOptionsOf(options, vars));
  } catch (error) {
    reportFailed = true;
    io.err(`testudo: cannot write the reports to ${options.reportDir}: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  if (inGitHubActions(vars)) for (const line of failureAnnotations(merged, process.cwd())) io.err(`${line}\n`);
  if (options.stepSummary === true) {
    try {
      io.err(`summary appended to ${await appendStepSummary(summary, vars)}\n`);
    } catch (error) {
      reportFailed = true;
      io.err(`testudo: cannot append to GITHUB_STEP_SUMMARY: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  io.out(options.json === true ? `${JSON.stringify(summary)}\n` : formatRunReport(summary, paths));
  const code = exitCodeForState(run.state);
  return code === RunExitCode.ok && reportFailed ? RunExitCode.failed : code;
}

/** Submits within --wait, then follows the run with a client that tolerates a quiet spell of {@link followQuietMsDefault}. */
async function submitAndFollow(connection: Connection, submission: RunSubmission, options: RunOptions, io: CliIo, env: RunCommandsEnv): Promise<number> {
  const create = env.createClient ?? realClient;
  const now = env.now ?? Date.now;
  const startedAtMs = now();
  const submitted = await withCluster(connection, create, (client) => client.submitRun(submission, options.runId === undefined ? {} : { runId: options.runId }));
  const runId = submitted.runId;
  io.err(
    submitted.duplicate
      ? `run ${runId} was already submitted; following it\n`
      : `submitted run ${runId} "${submission.name}": ${submitted.tasks} task${submitted.tasks === 1 ? '' : 's'}\n`,
  );
  return withCluster(
    connection,
    create,
    async (client) => {
      await watchToEnd(client, runId, io.err, env, options.progress, startedAtMs);
      return reportRun(client, runId, options, io, env.vars ?? process.env);
    },
    followQuietMsDefault,
  );
}

export async function runCommand(path: string | undefined, options: RunOptions, io: CliIo, env: RunCommandsEnv): Promise<void> {
  if (options.reportDir.trim() === '') throw new UsageError('--report-dir must not be empty');
  const vars = env.vars ?? process.env;
  if (options.stepSummary === true && (vars.GITHUB_STEP_SUMMARY ?? '') === '') throw new UsageError('--step-summary needs GITHUB_STEP_SUMMARY (set by GitHub Actions) to name a file');
  reportOptionsOf(options, vars); // a bad --junit-classname is exit 2 before anything is submitted
  const connection = connectionOf(options, io.err, vars);
  const choice = { suites: options.suite, excludeSuites: options.excludeSuite, overrides: options.set, name: options.name };
  const submission = await loadSubmission(specPathOf(path, options), choice, io.err);
  const code = await submitAndFollow(connection, submission, options, io, env);
  if (code !== RunExitCode.ok) throw new ExitError(code);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function registerRunCommand(program: Command, io: CliIo, env: RunCommandsEnv = {}): void {
  withReportOptions(withConnectOptions(
    program
      .command('run')
      .description('submit a run from a spec, show its progress on stderr, write the reports, print the summary (exit codes: docs/cli.md)')
      .argument('[path]', `the run spec: a file, or a directory holding ${DEFAULT_SPEC_FILE} (default ${DEFAULT_SPEC_FILE})`)
      .addOption(new Option('-f, --file <path>', 'the run spec (same as the path argument)'))
      .option('--suite <name>', 'run only this suite (repeatable)', collect)
      .option('--exclude-suite <name>', 'do not run this suite (repeatable)', collect)
      .option('--set <key=value>', 'override a spec field (repeatable): name, env.VAR, retries|timeoutSec|priority|shards|exclusive (every suite), suites.<suite>.<field>, suites.<suite>.env.VAR', collect)
      .option('--report-dir <dir>', 'where to write the reports', DEFAULT_REPORT_DIR)
      .option('--run-id <id>', 'the run id (resubmitting the same id follows the existing run)')
      .option('--name <name>', "override the spec's run name")
      .option('--no-progress', 'do not print progress while the run goes on')
      .option('--json', 'print the run summary as one JSON document on stdout instead of the text summary')
      .option('--step-summary', 'append the Markdown summary to $GITHUB_STEP_SUMMARY (GitHub Actions)'),
  )).action((path: string | undefined, options: RunOptions) => runCommand(path, options, io, env));
}
