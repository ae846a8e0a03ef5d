import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, describe, expect, it } from 'vitest';

import { protoDir, protoLoaderOptions } from '../../src/common/protos.js';

/**
 * src/generated holds the wire types of proto/testudo.proto, written by
 * `npm run gen:proto`. These checks keep them from drifting: the script's
 * options are those grpc-js loads the proto with (so the `__Output` types are
 * what it hands over), and regenerating gives the committed files byte for byte.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const generatedDir = join(root, 'src', 'generated');
const generator = join(root, 'node_modules', '.bin', 'proto-loader-gen-types');
const scratch = mkdtempSync(join(tmpdir(), 'testudo-proto-types-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The generator's arguments in `npm run gen:proto`, without `-O <dir>`, `-I <dir>` and the proto files. */
function scriptFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const script = pkg.scripts['gen:proto'];
  if (script === undefined) throw new Error('package.json has no gen:proto script');
  const words = script.split(/\s+/);
  const start = words.indexOf('proto-loader-gen-types');
  expect(start).toBeGreaterThanOrEqual(0);
  return words.slice(start + 1).filter((word) => word.startsWith('--'));
}

/** The generator flags that describe `options` (proto-loader's load options), or throws on one it cannot express. */
function flagsFor(options: Record<string, unknown>): string[] {
  const flags: string[] = [];
  for (const [name, value] of Object.entries(options)) {
    if (value === false) continue;
    if (value === true) flags.push(`--${name}`);
    else if (value === Number) flags.push(`--${name}=Number`);
    else if (value === String) flags.push(`--${name}=String`);
    else throw new Error(`protoLoaderOptions.${name}: no generator flag for ${String(value)}`);
  }
  return flags;
}

/** Every file under `dir`, by its path inside it, with its text. */
function readTree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), readFileSync(path, 'utf8'));
  }
  return files;
}

/**
 * Runs the generator as `npm run gen:proto` does, on `<base>/proto/testudo.proto`,
 * into a fresh directory. It runs in `base` with `-I proto`, as the script runs
 * in the repository: each file names its proto by that relative path.
 */
function generate(base: string): Map<string, string> {
  const outDir = mkdtempSync(join(scratch, 'out-'));
  execFileSync(generator, [...scriptFlags(), '-I', 'proto', '-O', outDir, 'testudo.proto'], { cwd: base, stdio: ['ignore', 'ignore', 'pipe'] });
  return readTree(outDir);
}

/** Paths whose text differs between two trees, or that only one holds. */
function drift(committed: Map<string, string>, fresh: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [path, text] of fresh) if (committed.get(path) !== text) out.push(committed.has(path) ? `${path}: differs` : `${path}: not committed`);
  for (const path of committed.keys()) if (!fresh.has(path)) out.push(`${path}: not generated`);
  return out.sort();
}

describe('wire types generated from proto/testudo.proto', () => {
  it('are generated with the options grpc-js loads the proto with', () => {
    const expected = flagsFor(protoLoaderOptions);
    const optional = ['--includeComments', '--grpcLib=@grpc/grpc-js', '--importFileExtension=.js'];
    expect(scriptFlags().filter((flag) => !optional.includes(flag)).sort()).toEqual(expected.sort());
  });

  it('notices options the script does not follow (the check can fail)', () => {
    expect(flagsFor({ ...protoLoaderOptions, json: true })).toContain('--json');
    expect(flagsFor({ ...protoLoaderOptions, longs: String })).toContain('--longs=String');
    expect(() => flagsFor({ ...protoLoaderOptions, longs: BigInt })).toThrow(/no generator flag/);
  });

  it('match the committed files byte for byte (run `npm run gen:proto` after changing the proto)', () => {
    const committed = readTree(generatedDir);
    expect(committed.size).toBeGreaterThan(50);
    expect(drift(committed, generate(root))).toEqual([]);
  });

  it('notice a proto changed without regenerating (the check can fail)', () => {
    const planted = mkdtempSync(join(scratch, 'planted-'));
    mkdirSync(join(planted, 'proto'));
    const plantedProto = join(planted, 'proto', 'testudo.proto');
    copyFileSync(join(protoDir(), 'testudo.proto'), plantedProto);
    const text = readFileSync(plantedProto, 'utf8');
    const edited = text.replace('message HeartbeatAck {\n  uint64 seq = 1;\n}', 'message HeartbeatAck {\n  uint64 seq = 1;\n  string note = 2;\n}\n\nmessage Planted {}');
    expect(edited).not.toBe(text);
    writeFileSync(plantedProto, edited);
    const committed = readTree(generatedDir);
    expect(drift(committed, generate(planted))).toEqual(['testudo.ts: differs', 'testudo/v1/HeartbeatAck.ts: differs', 'testudo/v1/Planted.ts: not committed']);
    committed.set('testudo/v1/Stale.ts', '');
    expect(drift(committed, generate(root))).toEqual(['testudo/v1/Stale.ts: not generated']);
  });
});
