import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { protoDir } from './protos.js';

const packageRoot = dirname(protoDir());

/** The version in Testudo's package.json (shown by --version and in member status). */
export const testudoVersion: string = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;

/**
 * The file a build may write next to package.json holding the commit it was
 * built from (one line, e.g. `git rev-parse HEAD > BUILD_COMMIT` in an image
 * build). Read once at start; git is never run at run time.
 */
export const buildCommitFile = 'BUILD_COMMIT';
/** The environment variable that names the commit; it wins over the file. */
export const buildCommitEnv = 'TESTUDO_COMMIT';
/** What the commit reads when neither the variable nor the file says. */
export const commitUnknown = 'unknown';
/** Longest commit text kept; a longer or odd one is not a commit name. */
export const commitCharsMax = 64;

const commitPattern = new RegExp(`^[A-Za-z0-9._+-]{1,${commitCharsMax}}$`);

/**
 * The commit to report: `fromEnv` when set, else `fromFile`'s first line,
 * else 'unknown'. Only a short name of letters, digits and `._+-` is kept,
 * so a stray file can never put arbitrary text into a metric label.
 */
export function commitFrom(fromEnv: string | undefined, fromFile: string | null): string {
  for (const candidate of [fromEnv, fromFile?.split('\n')[0]]) {
    const text = candidate?.trim() ?? '';
    if (text !== '') return commitPattern.test(text) ? text : commitUnknown;
  }
  return commitUnknown;
}

function readCommitFile(): string | null {
  try {
    return readFileSync(join(packageRoot, buildCommitFile), 'utf8');
  } catch {
    return null;
  }
}

/** The commit this Testudo was built from (TESTUDO_COMMIT, then BUILD_COMMIT, else 'unknown'). */
export const testudoCommit: string = commitFrom(process.env[buildCommitEnv], readCommitFile());
