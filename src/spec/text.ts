// Whether a spec file is text at all. A binary file (an image, an archive, a
// compiled program named by mistake) must be refused as such, never parsed
// and quoted back: its bytes, echoed to a terminal, can clear or recolour it.

import { isUtf8 } from 'node:buffer';
import { printable } from '../common/printable.js';

/** What is wrong with a spec's bytes or characters, and where (1-based; 0 when it is the whole file). */
export interface TextProblem {
  readonly detail: string;
  readonly line: number;
  readonly column: number;
}

/**
 * The offset of the first byte that does not start a well-formed UTF-8
 * sequence (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), or -1 when every byte does.
 */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    const more = lead < 0x80 ? 0 : lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : -1;
    if (more < 0) return i;
    if (more > 0) {
      // The second byte's range excludes overlong forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
      const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
      const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
      const second = bytes[i + 1];
      if (second === undefined || second < low || second > high) return i;
      for (let k = 2; k <= more; k++) {
        const next = bytes[i + k];
        if (next === undefined || (next & 0xc0) !== 0x80) return i;
      }
    }
    i += more + 1;
  }
  return -1;
}

/**
 * Why these bytes are not a text file (a NUL byte, or not UTF-8), or null.
 * Checked before anything is decoded or parsed.
 */
export function binaryProblem(bytes: Uint8Array): TextProblem | null {
  const nul = bytes.indexOf(0);
  const invalid = firstInvalidUtf8Byte(bytes);
  if ((invalid < 0) !== isUtf8(bytes)) throw new Error(`UTF-8 check disagrees with node:buffer isUtf8 (first invalid byte ${invalid})`);
  const at = nul >= 0 && (invalid < 0 || nul < invalid) ? nul : invalid;
  if (at < 0) return null;
  const what = at === nul ? 'a NUL byte' : `0x${bytes[at]!.toString(16).padStart(2, '0')}, which is not UTF-8`;
  const { line, column } = positionOfByte(bytes, at);
  return { detail: `not a text file: byte ${at} is ${what} (a spec is UTF-8 YAML text; is this the right file?)`, line, column };
}

// Control characters YAML does not allow in a document: C0 other than tab,
// newline and carriage return, DEL, and C1 other than NEL (YAML 1.2, 5.1).
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u0080-\u0084\u0086-\u009f]/;

/** The first control character YAML forbids, with its position, or null. */
export function controlCharacterProblem(text: string): TextProblem | null {
  const match = FORBIDDEN_CONTROL.exec(text);
  if (match === null) return null;
  const before = text.slice(0, match.index);
  const line = before.split('\n').length;
  const column = match.index - before.lastIndexOf('\n');
  return { detail: `control character ${printable(match[0])} is not allowed in a spec (YAML allows tab, newline and carriage return only)`, line, column };
}

function positionOfByte(bytes: Uint8Array, at: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: at - lineStart + 1 };
}
