// Money as integer minor units (cents), never floats.

const DECIMALS = { EUR: 2, USD: 2, GBP: 2, JPY: 0, KWD: 3 };

/** @param {string} currency */
export function decimalsOf(currency) {
  const decimals = DECIMALS[currency];
  if (decimals === undefined) throw new Error(`unknown currency ${currency}`);
  return decimals;
}

/**
 * Parses "12.34" into 1234 minor units (for a 2-decimal currency).
 * @param {string} text
 * @param {string} currency
 */
export function parseAmount(text, currency) {
  const decimals = decimalsOf(currency);
  const m = /^(-)?(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (m === null) throw new Error(`not an amount: ${JSON.stringify(text)}`);
  const fraction = m[3] ?? '';
  if (fraction.length > decimals) throw new Error(`${currency} has ${decimals} decimals, got ${text}`);
  const minor = Number(m[2]) * 10 ** decimals + Number(fraction.padEnd(decimals, '0') || '0');
  return m[1] ? -minor : minor;
}

/**
 * Formats minor units: formatMoney(123456, 'EUR') -> "1,234.56 EUR".
 * @param {number} minor
 * @param {string} currency
 */
export function formatMoney(minor, currency) {
  if (!Number.isSafeInteger(minor)) throw new Error('amount must be an integer number of minor units');
  const decimals = decimalsOf(currency);
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const unit = 10 ** decimals;
  const whole = Math.floor(abs / unit)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const fraction = decimals > 0 ? `.${(abs % unit).toString().padStart(decimals, '0')}` : '';
  return `${sign}${whole}${fraction} ${currency}`;
}

/**
 * Splits an amount into `parts` shares that differ by at most one minor
 * unit and sum to the amount exactly.
 * @param {number} minor
 * @param {number} parts
 */
export function allocate(minor, parts) {
  if (!Number.isInteger(parts) || parts < 1) throw new RangeError('parts must be a positive integer');
  const base = Math.trunc(minor / parts);
  const remainder = minor - base * parts;
  return Array.from({ length: parts }, (_, i) => base + (i < Math.abs(remainder) ? Math.sign(remainder) : 0));
}
