// Runs once per matrix cell: the worker exports each matrix value both as
// TESTUDO_MATRIX_<NAME> and as <NAME> itself (here `locale`).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LOCALES, greet, itemCount } from '../lib/greeting.js';

const locale = process.env.TESTUDO_MATRIX_LOCALE ?? process.env.locale ?? 'en';

const EXPECTED = {
  en: { hello: 'Hello, Ada!', one: '1 item', many: '1,200 items' },
  fr: { hello: 'Bonjour, Ada !', one: '1 article', many: '1 200 articles' },
};

describe(`greeting [${locale}]`, () => {
  test('the locale is supported', () => {
    assert.ok(LOCALES.includes(locale), `unsupported locale ${locale}`);
  });

  test('greets by name', () => {
    assert.equal(greet(locale, 'Ada'), EXPECTED[locale].hello);
  });

  test('pluralizes and formats counts', () => {
    assert.equal(itemCount(locale, 1), EXPECTED[locale].one);
    // Grouping spaces differ between ICU versions (U+00A0 or U+202F).
    assert.equal(itemCount(locale, 1200).replace(/[\u00a0\u202f]/g, ' '), EXPECTED[locale].many);
  });
});
