// Text quoted from user input (a spec, a flag value) goes into messages
// printed on a terminal. Control characters in it could move the cursor,
// recolour or retitle the terminal, or hide the rest of the message, so they
// are shown escaped instead.

// C0 controls, DEL, C1 controls, the Unicode line/paragraph separators and the
// bidirectional overrides and isolates (which reorder the text around them).
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffd]/g;
// eslint-disable-next-line no-control-regex
const UNPRINTABLE_KEEP_LINES = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufffd]/g;

function escapeChar(ch: string): string {
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every control character (tab and newline included) written as
 * an escape (`\x1b`, `\n`, `\u202e`); U+FFFD, the mark of bytes that were
 * not UTF-8, is written `\ufffd`. For one-line messages.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escapeChar);
}

/** Like {@link printable}, but keeps newlines and tabs (for multi-line messages). */
export function printableLines(text: string): string {
  return text.replace(UNPRINTABLE_KEEP_LINES, escapeChar);
}

/** True when `text` has a character {@link printable} would escape. */
export function hasUnprintable(text: string): boolean {
  return text.search(UNPRINTABLE) >= 0;
}
