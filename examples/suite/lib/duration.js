// Parses and formats human durations like "1h30m" or "45s".

const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** @param {string} text @returns {number} milliseconds */
export function parseDuration(text) {
  const source = text.trim();
  if (source === '') throw new Error('empty duration');
  let total = 0;
  let rest = source;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/.exec(rest);
    if (m === null) throw new Error(`bad duration: ${JSON.stringify(text)}`);
    total += Number(m[1]) * UNITS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return Math.round(total);
}

/** @param {number} ms @returns {string} like "1h30m" (largest units first, zero parts left out) */
export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError('duration must be a non-negative number');
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const parts = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]]) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
