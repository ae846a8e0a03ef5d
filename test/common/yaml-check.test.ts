import { describe, expect, it } from 'vitest';
import { isMap, type Node as YamlNode } from 'yaml';

import {
  ProblemList,
  TooManyProblems,
  YAML_PROBLEMS_MAX,
  YamlCheckError,
  derefNode,
  describeNode,
  describeValue,
  didYouMean,
  editDistance,
  formatDurationMs,
  formatPath,
  joinPath,
  nodeAtPath,
  nodePosition,
  parseDurationMs,
  readBoolean,
  readDurationMs,
  readEnum,
  readInteger,
  readList,
  readNumber,
  readRecord,
  readString,
  readYamlText,
  suggestKey,
  truncateText,
  unknownKeyDetail,
  type Read,
} from '../../src/common/yaml-check/index.js';
import { ScenarioError, ScenarioValidationError } from '../../src/failure-injection/scenario/index.js';
import { SpecError, SpecValidationError } from '../../src/spec/index.js';

/** The value read, or the refusal as `{ expected, detail }`. */
function outcome<T>(read: Read<T>): T | { expected: string; detail?: string } {
  if (!read.refused) return read.value;
  return read.detail === undefined ? { expected: read.expected } : { expected: read.expected, detail: read.detail };
}

describe('readers', () => {
  it('readInteger accepts integers in range (a YAML bigint as its number) and refuses the rest', () => {
    expect(outcome(readInteger(1, 1, 10))).toBe(1);
    expect(outcome(readInteger(10, 1, 10))).toBe(10);
    expect(outcome(readInteger(5n, 1, 10))).toBe(5);
    for (const bad of [0, 11, 1.5, '3', true, null, undefined, [], {}, Number.NaN]) {
      expect(outcome(readInteger(bad, 1, 10))).toEqual({ expected: 'an integer from 1 to 10' });
    }
  });

  it('readNumber honours an exclusive minimum and the integer flag; NaN and infinities are refused', () => {
    const share = { min: 0, max: 1, minExclusive: true };
    expect(outcome(readNumber(0.5, share))).toBe(0.5);
    expect(outcome(readNumber(1, share))).toBe(1);
    expect(outcome(readNumber(0, share))).toEqual({ expected: 'a number above 0 to 1' });
    expect(outcome(readNumber(0, { min: 0, max: 1 }))).toBe(0);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -0.1, 1.01, '0.5']) {
      expect(outcome(readNumber(bad, { min: 0, max: 1 }))).toEqual({ expected: 'a number from 0 to 1' });
    }
    expect(outcome(readNumber(2.5, { min: 0, max: 10, integer: true }))).toEqual({ expected: 'an integer from 0 to 10' });
    expect(outcome(readNumber(2, { min: 0, max: 10, integer: true }))).toBe(2);
  });

  it('readBoolean takes true and false only', () => {
    expect(outcome(readBoolean(true))).toBe(true);
    expect(outcome(readBoolean(false))).toBe(false);
    for (const bad of ['true', 1, 0, null]) expect(outcome(readBoolean(bad))).toEqual({ expected: 'true or false' });
  });

  it('readString checks length, pattern and NUL, with a default wording', () => {
    expect(outcome(readString('ok'))).toBe('ok');
    expect(outcome(readString(''))).toEqual({ expected: 'a non-empty string of at most 100000 characters' });
    expect(outcome(readString('', { min: 0, max: 5 }))).toBe('');
    expect(outcome(readString('toolong', { min: 0, max: 5 }))).toEqual({ expected: 'a string of at most 5 characters' });
    expect(outcome(readString('Abc', { pattern: /^[a-z]+$/, expected: 'a lowercase word' }))).toEqual({ expected: 'a lowercase word' });
    expect(outcome(readString('a\0b', { expected: 'a name' }))).toEqual({ expected: 'a name without NUL characters' });
    expect(outcome(readString('a\0b', { allowNul: true }))).toBe('a\0b');
    expect(outcome(readString(3, { expected: 'a name' }))).toEqual({ expected: 'a name' });
  });

  it('readEnum accepts a listed value and suggests the nearest one for a near miss', () => {
    const kinds = ['kill', 'pause', 'partition'] as const;
    expect(outcome(readEnum('pause', kinds, 'fault type'))).toBe('pause');
    expect(outcome(readEnum('kil', kinds, 'fault type'))).toEqual({
      expected: 'one of kill, pause, partition',
      detail: 'unknown fault type "kil" (did you mean "kill"?)',
    });
    expect(outcome(readEnum('explode', kinds, 'fault type'))).toEqual({ expected: 'one of kill, pause, partition', detail: 'unknown fault type "explode"' });
    expect(outcome(readEnum(7, kinds, 'fault type'))).toEqual({ expected: 'one of kill, pause, partition', detail: 'expected fault type, got 7' });
  });

  it('readList and readRecord tell lists from mappings', () => {
    expect(outcome(readList([1, 2], 1, 2, 'one or two items'))).toEqual([1, 2]);
    expect(outcome(readList([], 1, 2, 'one or two items'))).toEqual({ expected: 'one or two items' });
    expect(outcome(readList([1, 2, 3], 1, 2, 'one or two items'))).toEqual({ expected: 'one or two items' });
    expect(outcome(readList({ a: 1 }, 0, 9, 'a list'))).toEqual({ expected: 'a list' });
    expect(outcome(readRecord({ a: 1 }, 'a mapping'))).toEqual({ a: 1 });
    for (const bad of [[], null, 'a', 3]) expect(outcome(readRecord(bad, 'a mapping'))).toEqual({ expected: 'a mapping' });
  });

  it('durations: units, whole milliseconds only, bounds, and the written form', () => {
    expect([parseDurationMs('250ms'), parseDurationMs('1.5s'), parseDurationMs('2m'), parseDurationMs('1h'), parseDurationMs(40)]).toEqual([
      250, 1500, 120_000, 3_600_000, 40,
    ]);
    for (const bad of ['1.0001ms', '-1s', '5', '5 sec', '', -1, 1.5, null, true]) expect(parseDurationMs(bad)).toBeUndefined();
    expect([formatDurationMs(250), formatDurationMs(5000), formatDurationMs(120_000), formatDurationMs(7_200_000), formatDurationMs(1500)]).toEqual([
      '250ms', '5s', '2m', '2h', '1500ms',
    ]);
    expect(outcome(readDurationMs('5s', 1000, 60_000))).toBe(5000);
    expect(outcome(readDurationMs('90s', 1000, 60_000))).toEqual({ expected: 'a duration from 1s to 1m, like 250ms, 5s or 2m (or an integer number of ms)' });
  });
});

describe('wording', () => {
  it('paths join plain keys with dots, indexes in brackets, odd keys quoted', () => {
    expect(joinPath('', 'suites')).toBe('suites');
    expect(joinPath('suites', 1)).toBe('suites[1]');
    expect(joinPath('env', 'MY-VAR')).toBe('env["MY-VAR"]');
    expect(formatPath(['faults', 'events', 1, 'scope'])).toBe('faults.events[1].scope');
    expect(formatPath([])).toBe('');
    expect(formatPath(['odd key', 0])).toBe('["odd key"][0]');
  });

  it('suggestions: case-insensitive, within edit distance 2, the first on a tie', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(suggestKey('Shard', ['shards', 'retries'])).toBe('shards');
    expect(suggestKey('timout', ['timeoutSec', 'timeout'])).toBe('timeout');
    expect(suggestKey('abc', ['xyz'])).toBeUndefined();
    expect(suggestKey('abcd', ['abxy'])).toBe('abxy');
    expect(suggestKey('abcde', ['abxyz'])).toBeUndefined();
    expect(didYouMean('nmae', ['name'])).toBe(' (did you mean "name"?)');
    expect(didYouMean('zzzz', ['name'])).toBe('');
    expect(unknownKeyDetail('nmae', ['name', 'suites'], true)).toBe('unknown key "nmae" (did you mean "name"?)');
    expect(unknownKeyDetail('zzzz', ['name', 'suites'], true)).toBe('unknown key "zzzz" (known keys: name, suites)');
    expect(unknownKeyDetail('zzzz', ['name', 'suites'], false)).toBe('unknown key "zzzz"');
  });

  it('values and nodes read short in "got ..."', () => {
    expect([describeValue(undefined), describeValue('x'), describeValue([]), describeValue([1]), describeValue({}), describeValue({ a: 1 }), describeValue(1.5)]).toEqual([
      'nothing', '"x"', 'an empty list', 'a list', 'an empty mapping', 'a mapping', '1.5',
    ]);
    expect(describeValue('y'.repeat(100))).toBe(JSON.stringify(`${'y'.repeat(59)}…`));
    expect(truncateText('abcdef', 4)).toBe('abc…');
    const { doc } = readYamlText('a: 1.50\nb: ~\nc:\nd: [1]\ne: {}\nf: true\ng: hi\n', { uniqueKeys: true });
    const node = (key: string): YamlNode | null => (isMap(doc.contents) ? (doc.contents.get(key, true) as YamlNode | undefined) ?? null : null);
    expect(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((k) => describeNode(node(k)))).toEqual([
      '1.50', 'null', 'nothing', 'a list', 'an empty mapping', 'true', '"hi"',
    ]);
  });
});

describe('documents and positions', () => {
  it('locates syntax errors without the library repeating the position', () => {
    const { syntaxErrors } = readYamlText('a: 1\nb: [1, 2\n', { uniqueKeys: true });
    expect(syntaxErrors.length).toBeGreaterThan(0);
    const first = syntaxErrors[0]!;
    expect(first.detail).toMatch(/^YAML syntax error: /);
    expect(first.detail).not.toMatch(/at line \d+, column \d+/);
    expect(first.line).toBeGreaterThanOrEqual(2);
  });

  it('a duplicated key is a syntax error only with uniqueKeys', () => {
    expect(readYamlText('a: 1\na: 2\n', { uniqueKeys: true }).syntaxErrors).toHaveLength(1);
    expect(readYamlText('a: 1\na: 2\n', { uniqueKeys: false }).syntaxErrors).toHaveLength(0);
  });

  it('finds the node at a path (value or key), else its nearest ancestor, following aliases', () => {
    const text = ['base: &b', '  count: 3', 'list:', '  - x: 1', '  - y: 2', 'copy: *b', ''].join('\n');
    const { doc, lines } = readYamlText(text, { uniqueKeys: true });
    const at = (path: (string | number)[], onKey = false): { line: number; column: number } => nodePosition(lines, nodeAtPath(doc, path, onKey));
    expect(at(['base', 'count'])).toEqual({ line: 2, column: 10 });
    expect(at(['base', 'count'], true)).toEqual({ line: 2, column: 3 });
    expect(at(['list', 1, 'y'])).toEqual({ line: 5, column: 8 });
    expect(at(['list', 1, 'missing'])).toEqual({ line: 5, column: 5 });
    expect(at(['copy', 'count'])).toEqual({ line: 2, column: 10 });
    expect(at([])).toEqual({ line: 1, column: 1 });
    const alias = isMap(doc.contents) ? (doc.contents.get('copy', true) as YamlNode) : null;
    expect(nodePosition(lines, derefNode(doc, alias))).toEqual({ line: 2, column: 3 });
    expect(nodePosition(lines, null)).toEqual({ line: 1, column: 1 });
  });
});

describe('errors', () => {
  it('reads file:line:column: path: problem, as far as the position is known, escaped on request', () => {
    expect(new YamlCheckError({ file: 'f.yaml', line: 3, column: 5, path: 'a.b' }, 'bad', false).message).toBe('f.yaml:3:5: a.b: bad');
    expect(new YamlCheckError({ file: 'f.yaml', line: 3 }, 'bad', false).message).toBe('f.yaml:3: bad');
    expect(new YamlCheckError({ file: 'f.yaml' }, 'bad', false).message).toBe('f.yaml: bad');
    expect(new YamlCheckError({ file: 'f.yaml' }, 'got "\u001b[2J"', true).message).toBe('f.yaml: got "\\x1b[2J"');
    const error = new YamlCheckError({ file: 'f.yaml', line: 1, column: 2, path: 'p', expected: 'e', got: 'g' }, 'x', false);
    expect([error.line, error.column, error.path, error.expected, error.got]).toEqual([1, 2, 'p', 'e', 'g']);
  });

  it('the spec and scenario families stay their own classes over the shared base', () => {
    const spec = new SpecError({ file: 's.yaml', line: 2, column: 3, field: 'suites[0].shards', expected: 'an integer', got: '"x"' });
    expect(spec).toBeInstanceOf(YamlCheckError);
    expect([spec.name, spec.field, spec.path, spec.message]).toEqual([
      'SpecError', 'suites[0].shards', 'suites[0].shards', 's.yaml:2:3: suites[0].shards: expected an integer, got "x"',
    ]);
    const all = new SpecValidationError([spec]);
    expect(all).toBeInstanceOf(SpecError);
    expect(all.message).toBe('invalid spec s.yaml (1 error):\n  s.yaml:2:3: suites[0].shards: expected an integer, got "x"');
    const scenario = new ScenarioError({ file: 'k.yaml', line: 4, column: 1, path: 'faults', detail: 'both given', expected: 'exactly one' });
    expect(scenario).toBeInstanceOf(YamlCheckError);
    expect([scenario.name, scenario.message]).toEqual(['ScenarioError', 'k.yaml:4:1: faults: both given; expected exactly one']);
    const many = new ScenarioValidationError([scenario, scenario], true);
    expect(many.message).toBe(`invalid chaos scenario k.yaml (2+ errors):\n  ${scenario.message}\n  ${scenario.message}\n  (stopped after 2 errors)`);
  });

  it('a problem list stops at its bound, remembers it was cut, and sorts by position keeping ties in order', () => {
    const list = new ProblemList<YamlCheckError>();
    const make = (line: number, column: number, tag: string): YamlCheckError => new YamlCheckError({ file: 'f', line, column }, tag, false);
    const result = list.run(() => {
      for (let i = 0; ; i++) list.push(make(YAML_PROBLEMS_MAX - i, 1, `p${i}`));
    });
    expect(result).toBeUndefined();
    expect(list.errors).toHaveLength(YAML_PROBLEMS_MAX);
    expect(list.truncated).toBe(true);
    expect(() => list.push(make(1, 1, 'more'))).toThrow(TooManyProblems);

    const small = new ProblemList<YamlCheckError>();
    expect(small.run(() => 'done')).toBe('done');
    small.push(make(2, 1, 'b'));
    small.push(make(1, 9, 'a2'));
    small.push(make(1, 9, 'a3'));
    small.push(make(1, 2, 'a1'));
    expect(small.sorted().map((e) => e.message)).toEqual(['f:1:2: a1', 'f:1:9: a2', 'f:1:9: a3', 'f:2:1: b']);
    expect(small.truncated).toBe(false);
    expect(() => small.run(() => { throw new RangeError('not ours'); })).toThrow(RangeError);
  });
});
