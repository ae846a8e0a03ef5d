// tools/approx.js for mathjs 3.20.2's tests (the npm tarball leaves it out):
// equality of numbers within a relative tolerance, and of arrays and objects
// element by element with that tolerance. Written for bench/oss/mathjs-setup.sh.
'use strict';
const assert = require('assert');

const relativeTolerance = 1e-4;

function isNumeric(value) {
  return typeof value === 'number' || value instanceof Number;
}

function equal(actual, expected) {
  if (!isNumeric(actual) || !isNumeric(expected)) {
    assert.equal(actual, expected);
    return;
  }
  const a = Number(actual);
  const b = Number(expected);
  if (a === b) return;
  if (Number.isNaN(a) || Number.isNaN(b)) {
    assert.equal(String(a), String(b));
    return;
  }
  const message = `${a} ~= ${b}`;
  if (a === 0 || b === 0) {
    assert.ok(Math.abs(a === 0 ? b : a) < relativeTolerance, message);
    return;
  }
  assert.ok(Math.abs(a - b) <= Math.abs(Math.max(a, b) * relativeTolerance), message);
}

function ownKeys(value) {
  return Object.keys(value).filter((key) => Object.prototype.hasOwnProperty.call(value, key));
}

function deepEqual(actual, expected) {
  if (Array.isArray(actual) && Array.isArray(expected)) {
    assert.equal(actual.length, expected.length, `${actual} ~= ${expected}`);
    actual.forEach((item, i) => deepEqual(item, expected[i]));
    return;
  }
  if (actual instanceof Object && expected instanceof Object) {
    for (const key of ownKeys(actual)) {
      assert.ok(Object.prototype.hasOwnProperty.call(expected, key), `${actual[key]} ~= ${expected[key]}`);
      deepEqual(actual[key], expected[key]);
    }
    for (const key of ownKeys(expected)) {
      assert.ok(Object.prototype.hasOwnProperty.call(actual, key), `${actual[key]} ~= ${expected[key]}`);
    }
    return;
  }
  equal(actual, expected);
}

module.exports = { equal, deepEqual };
