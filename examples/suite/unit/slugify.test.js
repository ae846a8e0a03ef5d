import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { slugify } from '../lib/slugify.js';

describe('slugify', () => {
  test('lowercases and joins words with dashes', () => {
    assert.equal(slugify('Hello, World!'), 'hello-world');
  });

  test('strips accents', () => {
    assert.equal(slugify('Crème brûlée à la carte'), 'creme-brulee-a-la-carte');
  });

  test('spells out ampersands', () => {
    assert.equal(slugify('Salt & Pepper'), 'salt-and-pepper');
  });

  test('collapses runs of punctuation and trims the ends', () => {
    assert.equal(slugify('  --Testudo:: a *distributed* test runner--  '), 'testudo-a-distributed-test-runner');
  });

  test('cuts long titles at a word boundary', () => {
    assert.equal(slugify('the quick brown fox jumps over the lazy dog', { maxLength: 20 }), 'the-quick-brown-fox');
  });

  test('accepts another separator', () => {
    assert.equal(slugify('Release Notes 2.0', { separator: '_' }), 'release_notes_2_0');
  });
});
