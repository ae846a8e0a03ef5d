import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration, parseDuration } from '../lib/duration.js';

describe('duration', () => {
  test('parses compound durations', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('2d'), 172_800_000);
    assert.equal(parseDuration('1.5s'), 1500);
  });

  test('rejects garbage', () => {
    assert.throws(() => parseDuration('10 minutes'), /bad duration/);
    assert.throws(() => parseDuration(''), /empty/);
  });

  test('formats with the largest units first', () => {
    assert.equal(formatDuration(5_400_000), '1h30m');
    assert.equal(formatDuration(90_061_000), '1d1h1m1s');
    assert.equal(formatDuration(250), '250ms');
  });

  test('round-trips', () => {
    for (const text of ['45s', '3m7s', '12h', '1d2h']) assert.equal(formatDuration(parseDuration(text)), text);
  });
});
