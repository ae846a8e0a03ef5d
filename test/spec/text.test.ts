// A spec that is not text is refused as such, and nothing a spec holds is
// echoed to the terminal unescaped.
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSpec, SpecError, SpecValidationError } from '../../src/spec/index.js';
import { binaryProblem, controlCharacterProblem, firstInvalidUtf8Byte } from '../../src/spec/text.js';
import { printable } from '../../src/common/printable.js';
import { repoRoot, runCli } from '../cli/cli-process.js';
import { parseErrors } from './helpers.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'testudo-spec-text-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** Bytes a terminal may act on: C0 controls but tab and newline, DEL, C1 controls (as UTF-8), and any non-UTF-8 byte. */
function terminalHazards(output: Buffer): string[] {
  const found: string[] = [];
  if (!isUtf8(output)) found.push('bytes that are not UTF-8');
  const text = output.toString('utf8');
  // eslint-disable-next-line no-control-regex
  for (const m of text.matchAll(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\ufffd]/g)) found.push(`U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${m.index}`);
  return found;
}

describe('binary and control characters in a spec', () => {
  it('firstInvalidUtf8Byte agrees with node:buffer isUtf8 on random and edge-case bytes', () => {
    const cases: Uint8Array[] = [
      Buffer.from('plain ascii'),
      Buffer.from('é ü 中文 🐢'),
      Buffer.from([0xc0, 0x80]), // overlong NUL
      Buffer.from([0xe0, 0x80, 0x80]), // overlong
      Buffer.from([0xed, 0xa0, 0x80]), // a surrogate
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
      Buffer.from([0xe2, 0x82]), // cut short
      Buffer.from([0x80]),
    ];
    for (let i = 0; i < 2000; i++) cases.push(randomBytes(1 + (i % 16)));
    for (const bytes of cases) {
      const at = firstInvalidUtf8Byte(bytes);
      expect(at < 0, Buffer.from(bytes).toString('hex')).toBe(isUtf8(bytes));
      if (at >= 0) expect(isUtf8(bytes.subarray(0, at)), Buffer.from(bytes).toString('hex')).toBe(true);
    }
  });

  it('names the first NUL or non-UTF-8 byte and where it is', () => {
    expect(binaryProblem(Buffer.from('name: x\n'))).toBeNull();
    expect(binaryProblem(Buffer.from('name: x\nab\u0000c'))).toEqual({ detail: expect.stringMatching(/^not a text file: byte 10 is a NUL byte/) as string, line: 2, column: 3 });
    expect(binaryProblem(Buffer.from([0x6e, 0x3a, 0x20, 0xe9, 0x0a]))?.detail).toMatch(/byte 3 is 0xe9, which is not UTF-8/);
  });

  it('refuses the control characters YAML forbids, with their position, and keeps tab, newline and CR', () => {
    expect(controlCharacterProblem('a:\tb\r\nc: d\n')).toBeNull();
    expect(controlCharacterProblem('name: x\n\u001b[31mred: 1\n')).toEqual({ detail: expect.stringContaining('control character \\x1b') as string, line: 2, column: 1 });
    const error = parseErrors('name: x\nsuites:\n  - name: "a\u0007b"\n');
    expect(error.errors[0]!.message).toBe('testudo.yaml:3:13: control character \\x07 is not allowed in a spec (YAML allows tab, newline and carriage return only)');
  });

  it('escapes what a spec quotes back (bidi overrides, C1 controls) in every message', () => {
    const error = parseErrors('name: x\nsuites: "\u202e3"\n');
    expect(error.message).toContain('\\u202e3');
    expect(terminalHazards(Buffer.from(error.message))).toEqual([]);
    expect(new SpecError({ file: 'a\u001bb.yaml', detail: 'x' }).message).toBe('a\\x1bb.yaml: x');
    expect(new SpecValidationError([new SpecError({ file: 'a\u009bb', detail: 'x' })]).message).toContain('invalid spec a\\x9bb (1 error)');
    expect(printable('tab\there\nline')).toBe('tab\\there\\nline');
  });

  it('loadSpec refuses random bytes as "not a text file"', async () => {
    const dir = await tempDir();
    const file = join(dir, 'garbage.bin');
    await writeFile(file, Buffer.concat([Buffer.from([0xff, 0x00, 0x1b]), randomBytes(4096)]));
    await expect(loadSpec(file)).rejects.toThrow(/garbage\.bin:1:1: not a text file: byte 0 is 0xff, which is not UTF-8/);
  });

  it('`testudo run -f garbage.bin` exits 2 with a clear error and prints no control or binary bytes (real process)', async () => {
    const dir = await tempDir();
    // Worst case for a terminal: escape sequences that would clear the screen, set the title and ring the bell, then binary noise.
    const garbage = Buffer.concat([Buffer.from('\u001b[2J\u001b]0;pwned\u0007\u009b31m'), randomBytes(8192)]);
    await writeFile(join(dir, 'garbage.bin'), garbage);
    await writeFile(join(dir, 'escapes.yaml'), 'name: x\n\u001b[2J\u001b]0;pwned\u0007: 1\nsuites: []\n');
    const [binary, escapes, missing] = await Promise.all([
      runCli(['run', '-f', join(dir, 'garbage.bin'), '--coordinators', '127.0.0.1:1']),
      runCli(['run', '-f', join(dir, 'escapes.yaml'), '--coordinators', '127.0.0.1:1']),
      runCli(['run', '-f', join(dir, '\u001b[2Jmissing.yaml'), '--coordinators', '127.0.0.1:1']),
    ]);
    for (const [name, o, says] of [
      ['binary', binary, /garbage\.bin:\d+:\d+: not a text file: byte \d+ is/],
      ['escapes', escapes, /escapes\.yaml:2:1: control character \\x1b is not allowed/],
      ['missing', missing, /\\x1b\[2Jmissing\.yaml: spec file not found/],
    ] as const) {
      const all = Buffer.concat([o.stdout, o.stderr]);
      expect(o.code, `${name}: ${all.toString('utf8')}`).toBe(2);
      expect(terminalHazards(all), name).toEqual([]);
      expect(all.toString('utf8'), name).toMatch(says);
      expect(all.length, name).toBeLessThan(2000);
    }
  }, 120_000);
});

describe('the repository example is still accepted', () => {
  it('loads examples/testudo.yaml', async () => {
    const parsed = await loadSpec(join(repoRoot, 'examples', 'testudo.yaml'));
    expect(parsed.spec.suites.length).toBeGreaterThan(0);
  });
});
