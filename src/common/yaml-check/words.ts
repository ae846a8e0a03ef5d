// How paths, values and suggestions read in the messages of a YAML check.

/** One step of a path: a mapping key or a list index. */
export type PathSegment = string | number;

const PLAIN_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `parent.key`, or `parent["odd key"]` for a key that is not a plain name. */
export function joinPath(parent: string, key: PathSegment): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (PLAIN_KEY_RE.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** A path given as segments, like `['faults', 'events', 1, 'scope']` → `faults.events[1].scope`. */
export function formatPath(segments: readonly PathSegment[]): string {
  return segments.reduce<string>((out, segment) => joinPath(out, segment), '');
}

/** `text` cut to `max` characters, the last one an ellipsis when cut. */
export function truncateText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Levenshtein distance (small strings only). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(above + 1, (prev[j - 1] ?? 0) + 1, diag + cost);
      diag = above;
    }
  }
  return prev[b.length] ?? 0;
}

/** A suggestion is made only within this edit distance (case-insensitive). */
export const SUGGESTION_DISTANCE_MAX = 2;

/** The known word closest to `word` within {@link SUGGESTION_DISTANCE_MAX}, if any (the first one on a tie). */
export function suggestKey(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = SUGGESTION_DISTANCE_MAX + 1;
  for (const candidate of known) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` when a known word is close to `word`, else ''. */
export function didYouMean(word: string, known: readonly string[]): string {
  const suggestion = suggestKey(word, known);
  return suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
}

/**
 * `unknown key "k" (did you mean "key"?)`. Without a close key, `listKnown`
 * appends ` (known keys: a, b)`.
 */
export function unknownKeyDetail(key: string, known: readonly string[], listKnown: boolean): string {
  const hint = didYouMean(key, known);
  if (hint === '' && listKnown) return `unknown key "${key}" (known keys: ${known.join(', ')})`;
  return `unknown key "${key}"${hint}`;
}

/** How a plain value (read from YAML) reads in "got ...". */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(truncateText(value, 60));
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : 'a list';
  if (typeof value === 'object') return Object.keys(value).length === 0 ? 'an empty mapping' : 'a mapping';
  return String(value);
}
