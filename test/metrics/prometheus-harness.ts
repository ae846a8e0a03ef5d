import { spawn, type ChildProcess } from 'node:child_process';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

import { stringify } from 'yaml';

import { freePort } from '../../src/cluster/local-cluster.js';

/**
 * Real Prometheus tools for the metrics tests: `promtool check metrics` and a
 * `prometheus` server, both from Debian's `prometheus` package. Nothing here
 * is mocked; a missing binary fails the test with how to install it.
 */

export const prometheusInstallHint = "install Debian's prometheus package: apt-get install -y --no-install-recommends prometheus";

/** The absolute path of `name` on PATH; throws naming the package when it is missing. */
export async function requireBinary(name: 'promtool' | 'prometheus'): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${name} is not on PATH (${process.env.PATH ?? ''}): ${prometheusInstallHint}`);
}

/** One complaint of `promtool check metrics`: the metric it names and what is wrong. */
export interface LintProblem {
  readonly metric: string;
  readonly text: string;
}

/** Longest a promtool run may take before it is called hung. */
export const promtoolTimeoutMs = 30_000;

/**
 * Pipes an exposition text through `promtool check metrics`. Returns its
 * exit code and each problem line it printed (`<metric> <what is wrong>`).
 */
export async function checkMetrics(promtool: string, text: string): Promise<{ code: number | null; problems: LintProblem[]; output: string }> {
  const child = spawn(promtool, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'], timeout: promtoolTimeoutMs });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  child.stdin.end(text);
  const code = await exited;
  const problems = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.indexOf(' ');
      return space < 0 ? { metric: line, text: '' } : { metric: line.slice(0, space), text: line.slice(space + 1) };
    });
  return { code, problems, output };
}

/** TLS settings for scraping over HTTPS (files Prometheus reads). */
export interface ScrapeTls {
  readonly caFile: string;
  /** Client certificate and key, for coordinators that require mutual TLS. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** The name the targets' certificates carry, when it differs from the target host. */
  readonly serverName?: string;
}

export interface ScrapeJob {
  readonly job: string;
  /** `host:port` of each target's HTTP server. */
  readonly targets: readonly string[];
}

/**
 * The whole Prometheus configuration. The only place that decides plain
 * HTTP or HTTPS: with `tls` every job is scraped with `scheme: https` and a
 * `tls_config`; with a `bearerTokenFile` every scrape presents that token.
 */
export function prometheusConfig(options: { jobs: readonly ScrapeJob[]; tls: ScrapeTls | null; bearerTokenFile?: string; scrapeIntervalSeconds: number }): Record<string, unknown> {
  const interval = `${options.scrapeIntervalSeconds}s`;
  const security: Record<string, unknown> = { scheme: options.tls === null ? 'http' : 'https' };
  if (options.tls !== null) {
    const tls: Record<string, string> = { ca_file: options.tls.caFile };
    if (options.tls.certFile !== undefined) tls['cert_file'] = options.tls.certFile;
    if (options.tls.keyFile !== undefined) tls['key_file'] = options.tls.keyFile;
    if (options.tls.serverName !== undefined) tls['server_name'] = options.tls.serverName;
    security['tls_config'] = tls;
  }
  if (options.bearerTokenFile !== undefined) security['authorization'] = { type: 'Bearer', credentials_file: options.bearerTokenFile };
  return {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: options.jobs.map((j) => ({ job_name: j.job, metrics_path: '/metrics', ...security, static_configs: [{ targets: [...j.targets] }] })),
  };
}

/** One sample of an instant query's vector. */
export interface Sample {
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface RunningPrometheus {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly pid: number;
  /** An instant query through /api/v1/query; throws unless it answers a vector. */
  query(promql: string): Promise<Sample[]>;
  /** Prometheus's own log so far (for failure messages). */
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** Longest Prometheus gets to start answering /-/ready, and to exit after SIGTERM. */
export const prometheusStartTimeoutMs = 60_000;
export const prometheusStopTimeoutMs = 10_000;

/**
 * Starts `prometheus` on 127.0.0.1 (a free port), with its TSDB and config
 * in a fresh temporary directory, and waits until it is ready. `stop()`
 * ends it by its pid and removes the directory.
 */
export async function startPrometheus(binary: string, config: Record<string, unknown>): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-prom-'));
  const configFile = join(dir, 'prometheus.yml');
  const logFile = join(dir, 'prometheus.log');
  await writeFile(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = createWriteStream(logFile);
  const child: ChildProcess = spawn(binary, [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const readLog = async (): Promise<string> => readFile(logFile, 'utf8').catch(() => '');
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGTERM');
        const timer = setTimeout(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'), prometheusStopTimeoutMs);
        await exited;
        clearTimeout(timer);
      }
      await new Promise((resolve) => log.end(resolve));
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    await waitReady(url, exited, readLog);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, pid: child.pid!, query: (promql) => instantQuery(url, promql), log: readLog, stop };
}

async function waitReady(url: string, exited: Promise<number | null>, readLog: () => Promise<string>): Promise<void> {
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const deadline = Date.now() + prometheusStartTimeoutMs;
  while (Date.now() < deadline) {
    if (code !== undefined) throw new Error(`prometheus exited with code ${code} before it was ready:\n${await readLog()}`);
    try {
      const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`prometheus at ${url} not ready after ${prometheusStartTimeoutMs} ms:\n${await readLog()}`);
}

async function instantQuery(url: string, promql: string): Promise<Sample[]> {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5000) });
  const body = (await response.json()) as { status: string; error?: string; data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] } };
  if (body.status !== 'success' || body.data === undefined) throw new Error(`query ${promql} failed: ${body.error ?? response.status}`);
  if (body.data.resultType !== 'vector') throw new Error(`query ${promql} answered a ${body.data.resultType}, not a vector`);
  return body.data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
}

/** Polls `probe` every `intervalMs` until it returns something other than undefined; bounded by `timeoutMs`. */
export async function pollUntil<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === null ? '' : `: ${String(last)}`}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
