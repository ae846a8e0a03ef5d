import { readFileSync } from 'node:fs';

import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/**
 * The JSON schema is a public contract: editors (yaml-language-server) and
 * CI linters validate testudo.yaml with it. It must accept what the parser
 * accepts and refuse what it refuses, for the shipped example and the
 * common mistakes.
 */
const schema = JSON.parse(readFileSync('schema/testudo.schema.json', 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(schema);

describe('schema/testudo.schema.json', () => {
  it('accepts the shipped example', () => {
    const example = parse(readFileSync('examples/testudo.yaml', 'utf8')) as unknown;
    expect(validate(example), JSON.stringify(validate.errors)).toBe(true);
  });

  it('accepts a minimal spec and every shard form', () => {
    for (const shards of [3, { count: 2, by: 'timings' }, { count: 2 }]) {
      const spec = { name: 'x', suites: [{ name: 'unit', command: 'npm test', files: 'test/*.js', shards }] };
      expect(validate(spec), JSON.stringify(validate.errors)).toBe(true);
    }
  });

  it.each([
    ['no suites', { name: 'x' }],
    ['an unknown top-level key', { name: 'x', suites: [{ name: 'u', command: 'c' }], sutes: [] }],
    ['an unknown suite key', { name: 'x', suites: [{ name: 'u', command: 'c', retires: 1 }] }],
    ['a suite without a command', { name: 'x', suites: [{ name: 'u' }] }],
    ['shards of zero', { name: 'x', suites: [{ name: 'u', command: 'c', shards: 0 }] }],
    ['an unknown shard strategy', { name: 'x', suites: [{ name: 'u', command: 'c', shards: { count: 2, by: 'size' } }] }],
    ['retries out of range', { name: 'x', suites: [{ name: 'u', command: 'c', retries: 11 }] }],
    ['an empty matrix axis', { name: 'x', suites: [{ name: 'u', command: 'c', matrix: { region: [] } }] }],
  ])('refuses %s', (_what, spec) => {
    expect(validate(spec)).toBe(false);
  });
});
