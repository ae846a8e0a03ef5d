// Locale-aware messages: the `matrix` suite runs these tests once per locale.

const MESSAGES = {
  en: { hello: 'Hello, {name}!', items: { one: '{count} item', other: '{count} items' } },
  fr: { hello: 'Bonjour, {name} !', items: { one: '{count} article', other: '{count} articles' } },
};

export const LOCALES = Object.keys(MESSAGES);

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => String(values[key]));
}

/** @param {string} locale @param {string} name */
export function greet(locale, name) {
  const messages = MESSAGES[locale];
  if (messages === undefined) throw new Error(`unsupported locale ${locale}`);
  return fill(messages.hello, { name });
}

/** @param {string} locale @param {number} count */
export function itemCount(locale, count) {
  const messages = MESSAGES[locale];
  if (messages === undefined) throw new Error(`unsupported locale ${locale}`);
  const category = new Intl.PluralRules(locale).select(count) === 'one' ? 'one' : 'other';
  return fill(messages.items[category], { count: new Intl.NumberFormat(locale).format(count) });
}
