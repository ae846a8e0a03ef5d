// Slow on purpose (about 2.5 s): simulates a checkout talking to a payment
// service with latency.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { allocate, formatMoney, parseAmount } from '../lib/money.js';
import { slugify } from '../lib/slugify.js';

async function paymentService(amountMinor, currency) {
  await sleep(1200);
  if (amountMinor <= 0) return { ok: false, reason: 'amount must be positive' };
  return { ok: true, receipt: `paid ${formatMoney(amountMinor, currency)}` };
}

describe('checkout flow', () => {
  test('splits a bill, pays each share and prints receipts', async () => {
    const total = parseAmount('100.00', 'EUR');
    const shares = allocate(total, 3);
    const receipts = await Promise.all(shares.map((share) => paymentService(share, 'EUR')));
    assert.deepEqual(
      receipts.map((r) => r.receipt),
      ['paid 33.34 EUR', 'paid 33.33 EUR', 'paid 33.33 EUR'],
    );
  });

  test('refuses an empty payment and builds an order URL', async () => {
    const result = await paymentService(0, 'USD');
    assert.equal(result.ok, false);
    assert.equal(`/orders/${slugify('Order #42: Café & Co')}`, '/orders/order-42-cafe-and-co');
  });
});
