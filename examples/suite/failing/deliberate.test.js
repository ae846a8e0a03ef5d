// This suite fails ON PURPOSE so the example run shows what a failure looks
// like in Testudo's report (message, stack, output tail). Remove the `failing`
// suite from testudo.yaml for a green run.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatMoney } from '../lib/money.js';

describe('deliberately failing', () => {
  test('formats one euro (passes)', () => {
    assert.equal(formatMoney(100, 'EUR'), '1.00 EUR');
  });

  test('expects the wrong thousands separator (fails on purpose)', () => {
    assert.equal(formatMoney(123456, 'EUR'), '1.234,56 EUR');
  });
});
