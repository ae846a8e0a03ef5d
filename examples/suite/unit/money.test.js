import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allocate, formatMoney, parseAmount } from '../lib/money.js';

describe('money', () => {
  test('formats minor units with thousands separators', () => {
    assert.equal(formatMoney(123456789, 'EUR'), '1,234,567.89 EUR');
  });

  test('formats negative amounts and zero-decimal currencies', () => {
    assert.equal(formatMoney(-5, 'USD'), '-0.05 USD');
    assert.equal(formatMoney(1500, 'JPY'), '1,500 JPY');
  });

  test('parses amounts without floating point drift', () => {
    assert.equal(parseAmount('0.1', 'EUR') + parseAmount('0.2', 'EUR'), parseAmount('0.3', 'EUR'));
    assert.equal(parseAmount('12.345', 'KWD'), 12345);
  });

  test('rejects too many decimals', () => {
    assert.throws(() => parseAmount('1.005', 'EUR'), /2 decimals/);
  });

  test('allocates without losing a cent', () => {
    const shares = allocate(1000, 3);
    assert.deepEqual(shares, [334, 333, 333]);
    assert.equal(shares.reduce((a, b) => a + b, 0), 1000);
  });

  test('allocates negative amounts too', () => {
    assert.deepEqual(allocate(-10, 4), [-3, -3, -2, -2]);
  });
});
