// Runs the real `testudo` command line as a child process (node + tsx on
// src/cli/main.ts, or the built CLI when vitest.config.ts found the build
// current), the way a user or a CI job runs it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const mainPath = join(repoRoot, 'src', 'cli', 'main.ts');
/** The built CLI (`npm run build`), the file the package's `testudo` bin points at. */
export const builtMainPath = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

/** `node dist/src/cli/main.js` when built (fast: nothing to compile), else node + tsx on the source. */
export function cliArgv(): string[] {
  return existsSync(builtMainPath) ? [builtMainPath] : ['--import', 'tsx', mainPath];
}

/** The source through tsx, or the built CLI when the build is current (TESTUDO_BUILT_CLI, set by vitest.config.ts). */
export function sourceArgv(): string[] {
  const built = process.env.TESTUDO_BUILT_CLI;
  return built === undefined || built === '' ? ['--import', 'tsx', mainPath] : [built];
}

/** Longest one command line may take before the test kills it. */
export const cliTimeoutMs = 120_000;

export interface CliOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

/** Runs `testudo <args>`; `env` is added to (or, with undefined values, removed from) this process's environment. */
export function runCli(args: readonly string[], env: Record<string, string | undefined> = {}, cwd = repoRoot, argv: readonly string[] = sourceArgv()): Promise<CliOutcome> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key];
    else childEnv[key] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...argv, ...args], { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), cliTimeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) });
    });
  });
}

/** Runs the built `testudo` (see {@link cliArgv}). */
export function runBuiltCli(args: readonly string[], env: Record<string, string | undefined> = {}, cwd = repoRoot): Promise<CliOutcome> {
  return runCli(args, env, cwd, cliArgv());
}
