import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { SpecValidationError, parseSpecText, type ParsedSpec } from '../../src/spec/index.js';

export function parse(text: string, env: Record<string, string | undefined> = {}): ParsedSpec {
  return parseSpecText(text, { file: 'testudo.yaml', sourceDir: '/tmp/none', env });
}

/** The SpecValidationError parsing `text` throws. */
export function parseErrors(text: string, env: Record<string, string | undefined> = {}): SpecValidationError {
  try {
    parse(text, env);
  } catch (error) {
    expect(error).toBeInstanceOf(SpecValidationError);
    return error as SpecValidationError;
  }
  throw new Error('expected the spec to be rejected');
}

export async function withTempDir<T>(files: Record<string, string>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-spec-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      const path = join(dir, name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
    }
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
