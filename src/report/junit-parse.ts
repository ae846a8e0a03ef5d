// Parses the JUnit XML reports real test tools write into TestCaseResults.
//
// Dialects: a `<testsuites>` root or a bare `<testsuite>`, suites nested at any
// depth (node --test), test cases directly under `<testsuites>` (node --test
// for top-level tests), Surefire, pytest, jest-junit and gotestsum. Every
// string is bounded, and so is the number of cases. Entities: only the five
// predefined ones and numeric character references are decoded; DTD-declared
// entities are never expanded (no entity-expansion bombs).

import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { TestCaseResult, TestCaseStatus } from '../model/types.js';
import {
  junitDetailsBytesMax,
  junitMessageBytesMax,
  junitNameBytesMax,
  junitNestingMax,
  testCasesMax,
  truncateUtf8,
} from '../worker/limits.js';

export interface JUnitParseOptions {
  /** The report's path, named in error reasons. */
  readonly file?: string;
}

export interface JUnitCounts {
  readonly total: number;
  readonly passed: number;
  readonly failed: number;
  readonly error: number;
  readonly skipped: number;
}

export interface JUnitParseResult {
  /** In document order within each suite (a suite's cases before its nested suites). */
  readonly tests: TestCaseResult[];
  readonly counts: JUnitCounts;
}

/** The report cannot be used: `reason` says why (one line, human-readable). */
export class JUnitParseError extends Error {
  override readonly name = 'JUnitParseError';
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.reason = reason;
  }
}

const arrayTags = new Set(['testsuites', 'testsuite', 'testcase', 'failure', 'error', 'skipped']);
const cdataKey = '__cdata';
const textKey = '#text';
const attr = '@_';

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: attr,
  // Entities are decoded here, by decodeEntities: the five predefined ones and
  // numeric references only.
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  alwaysCreateTextNode: true,
  cdataPropName: cdataKey,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
  maxNestedTags: junitNestingMax,
  isArray: (tagName: string) => arrayTags.has(tagName),
});

type XmlNode = Record<string, unknown>;

/** Parses a JUnit XML report; throws {@link JUnitParseError} when it cannot be used. */
export function parseJUnitXml(xml: string, options: JUnitParseOptions = {}): JUnitParseResult {
  const where = options.file !== undefined ? ` in ${options.file}` : '';
  if (xml.trim() === '') throw new JUnitParseError(`empty JUnit report${where}`);
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;

  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    const at = col !== undefined ? `line ${line}, column ${col}` : `line ${line}`;
    throw new JUnitParseError(`JUnit report${where} is not well-formed XML (${at}): ${bound(msg, junitMessageBytesMax)}`);
  }

  let doc: unknown;
  try {
    doc = parser.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new JUnitParseError(`JUnit report${where} cannot be parsed: ${bound(msg, junitMessageBytesMax)}`);
  }
  if (!isNode(doc)) throw new JUnitParseError(`JUnit report${where} has no root element`);

  const tests: TestCaseResult[] = [];
  const sink = (test: TestCaseResult): void => {
    if (tests.length >= testCasesMax) {
      throw new JUnitParseError(`JUnit report${where} has more than ${testCasesMax} test cases`);
    }
    tests.push(test);
  };

  const roots = Object.keys(doc).filter((key) => !key.startsWith(attr) && key !== textKey && key !== cdataKey);
  if (roots.includes('testsuites')) {
    const root = doc['testsuites'];
    for (const node of asNodes(root)) walkSuite(node, [], '', sink, false);
  } else if (roots.includes('testsuite')) {
    for (const node of asNodes(doc['testsuite'])) walkSuite(node, [], '', sink, true);
  } else {
    const found = roots[0] !== undefined ? `<${bound(roots[0], 64)}>` : 'no element';
    throw new JUnitParseError(`JUnit report${where} has root ${found}, expected <testsuites> or <testsuite>`);
  }

  const counts = { total: tests.length, passed: 0, failed: 0, error: 0, skipped: 0 };
  for (const test of tests) counts[test.status]++;
  return { tests, counts };
}

/**
 * Collects the test cases of a `<testsuites>` (isSuite false) or `<testsuite>`
 * element and of the suites nested in it.
 */
function walkSuite(
  node: XmlNode,
  suitePath: readonly string[],
  suiteFile: string,
  sink: (test: TestCaseResult) => void,
  isSuite: boolean,
): void {
  let path = suitePath;
  let file = suiteFile;
  if (isSuite) {
    const name = attribute(node, 'name');
    if (name !== '') path = [...suitePath, name];
    const ownFile = attribute(node, 'file') || attribute(node, 'filepath');
    if (ownFile !== '') file = ownFile;
  }
  for (const testcase of asNodes(node['testcase'])) sink(testCase(testcase, path, file));
  for (const suite of asNodes(node['testsuite'])) walkSuite(suite, path, file, sink, true);
}

function testCase(node: XmlNode, suitePath: readonly string[], suiteFile: string): TestCaseResult {
  const name = attribute(node, 'name');
  const classname = attribute(node, 'classname') || suitePath.join('.') || name;
  const file = attribute(node, 'file') || attribute(node, 'filepath') || suiteFile;

  let status: TestCaseStatus = 'passed';
  let outcome: XmlNode | undefined;
  for (const [tag, tagStatus] of [
    ['failure', 'failed'],
    ['error', 'error'],
    ['skipped', 'skipped'],
  ] as const) {
    const first = asNodes(node[tag])[0];
    if (first !== undefined) {
      status = tagStatus;
      outcome = first;
      break;
    }
  }

  let message = '';
  let type = '';
  let details = '';
  if (outcome !== undefined) {
    const body = bodyText(outcome);
    message = restoreLineBreaks(attribute(outcome, 'message'), body);
    if (message === '' && status !== 'skipped') message = firstLine(body);
    type = attribute(outcome, 'type');
    details = body.trim();
  }

  return {
    classname: bound(classname, junitNameBytesMax),
    name: bound(name, junitNameBytesMax),
    file: bound(file, junitNameBytesMax),
    status,
    timeSec: parseTime(attribute(node, 'time')),
    message: bound(message, junitMessageBytesMax),
    type: bound(type, junitNameBytesMax),
    details: bound(details, junitDetailsBytesMax),
  };
}

/** Seconds as a float; tolerates Surefire's thousands separators ("1,234.5"); invalid → 0. */
function parseTime(raw: string): number {
  let text = raw.trim();
  if (/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(text)) text = text.replaceAll(',', '');
  if (!/^[+]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return 0;
  const value = Number(text);
  return Number.isFinite(value) && value >= 0 ? value : 0;
}

function attribute(node: XmlNode, name: string): string {
  const value = node[attr + name];
  return typeof value === 'string' ? decodeEntities(value) : '';
}

/** The element's text: CDATA sections (verbatim) then the decoded character data. */
function bodyText(node: XmlNode): string {
  let out = '';
  for (const cdata of asValues(node[cdataKey])) {
    if (typeof cdata === 'string') out += cdata;
    else if (isNode(cdata) && typeof cdata[textKey] === 'string') out += cdata[textKey];
  }
  for (const text of asValues(node[textKey])) {
    if (typeof text === 'string') out += decodeEntities(text);
  }
  return out;
}

/** Start positions tried by {@link restoreLineBreaks}: the work stays within this many passes over the message. */
export const lineBreakRestoreTriesMax = 32;

/**
 * Node's reporter writes a failure's `message` attribute with its line breaks
 * removed ("line oneline two") while the body holds the message as thrown.
 * When the body contains the message with only line breaks added, the body's
 * text is the message; otherwise the attribute is kept as written.
 */
export function restoreLineBreaks(message: string, body: string): string {
  const head = message[0];
  if (head === undefined || message.includes('\n') || !body.includes('\n')) return message;
  let start = body.indexOf(head);
  for (let tries = 0; start >= 0 && tries < lineBreakRestoreTriesMax; tries++) {
    let i = start;
    let j = 0;
    while (i < body.length && j < message.length) {
      const c = body[i];
      if (c === message[j]) j++;
      else if (c !== '\n' && c !== '\r') break;
      i++;
    }
    if (j === message.length) {
      const found = body.slice(start, i);
      return found.includes('\n') ? found : message;
    }
    start = body.indexOf(head, start + 1);
  }
  return message;
}

function firstLine(text: string): string {
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed !== '') return trimmed;
  }
  return '';
}

const predefined: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decodes the five predefined entities and numeric references; leaves any other `&name;` as written. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const code = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return whole;
      return String.fromCodePoint(code);
    }
    return predefined[ref] ?? whole;
  });
}

function bound(text: string, maxBytes: number): string {
  return truncateUtf8(text, maxBytes);
}

function isNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asValues(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Elements as objects; an empty element parsed as a string becomes an empty node. */
function asNodes(value: unknown): XmlNode[] {
  return asValues(value).map((item) => (isNode(item) ? item : {}));
}
