// Reading a YAML document with positions, and finding nodes in it.

import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { truncateText, type PathSegment } from './words.js';

/** A position in a file, 1-based. */
export interface YamlPosition {
  readonly line: number;
  readonly column: number;
}

/** A problem the YAML library found, located. */
export interface YamlSyntaxProblem extends YamlPosition {
  readonly detail: string;
}

export interface YamlText {
  readonly doc: Document;
  readonly lines: LineCounter;
  /** Syntax errors, empty when the text is YAML. */
  readonly syntaxErrors: readonly YamlSyntaxProblem[];
  readonly warnings: readonly YamlSyntaxProblem[];
}

/** Alias chains longer than this are not followed. */
export const ALIAS_HOPS_MAX = 64;

/** The library's message without the position it appends (ours is in front). */
function withoutPosition(message: string): string {
  return message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
}

/**
 * Parses one YAML document, keeping line positions. With `uniqueKeys: false`
 * a duplicated key is left for the caller to report.
 */
export function readYamlText(text: string, options: { readonly uniqueKeys: boolean }): YamlText {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: options.uniqueKeys, prettyErrors: false });
  const located = (e: { pos: [number, number]; message: string }, prefix: string): YamlSyntaxProblem => {
    const pos = lines.linePos(e.pos[0]);
    return { line: pos.line, column: pos.col, detail: `${prefix}${withoutPosition(e.message)}` };
  };
  return {
    doc,
    lines,
    syntaxErrors: doc.errors.map((e) => located(e, 'YAML syntax error: ')),
    warnings: doc.warnings.map((w) => located(w, '')),
  };
}

/** Follows aliases (`*name`) to the node they stand for. */
export function derefNode(doc: Document, node: YamlNode | null): YamlNode | null {
  let current: unknown = node;
  for (let hops = 0; isAlias(current) && hops < ALIAS_HOPS_MAX; hops++) current = current.resolve(doc) ?? null;
  return (current ?? null) as YamlNode | null;
}

/** Where `node` starts (else `fallback`; else 1:1). */
export function nodePosition(lines: LineCounter, node: YamlNode | null | undefined, fallback?: YamlNode | null): YamlPosition {
  const range = node?.range ?? fallback?.range;
  if (range === undefined || range === null) return { line: 1, column: 1 };
  const pos = lines.linePos(range[0]);
  return { line: pos.line, column: pos.col };
}

/**
 * The node at `path` (its key node with `onKey`), or the nearest ancestor that
 * exists: for checks that run on plain values and locate problems afterwards.
 */
export function nodeAtPath(doc: Document, path: readonly PathSegment[], onKey: boolean): YamlNode | null {
  let node = derefNode(doc, doc.contents as YamlNode | null);
  let found: YamlNode | null = node;
  for (const [i, segment] of path.entries()) {
    let next: YamlNode | null = null;
    let keyNode: YamlNode | null = null;
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
      keyNode = (pair?.key ?? null) as YamlNode | null;
      next = derefNode(doc, (pair?.value ?? null) as YamlNode | null);
    } else if (isSeq(node) && typeof segment === 'number') {
      next = derefNode(doc, (node.items[segment] ?? null) as YamlNode | null);
    }
    if (i === path.length - 1 && onKey && keyNode !== null) return keyNode;
    if (next === null) return keyNode ?? found;
    node = next;
    found = next;
  }
  return found;
}

/** How a node reads in "got ..." (numbers keep their YAML spelling). */
export function describeNode(node: YamlNode | null | undefined): string {
  if (node === null || node === undefined) return 'nothing';
  if (isMap(node)) return node.items.length === 0 ? 'an empty mapping' : 'a mapping';
  if (isSeq(node)) return node.items.length === 0 ? 'an empty list' : 'a list';
  if (isScalar(node)) {
    const value = node.value;
    if (value === null) return node.source === '' || node.source === undefined ? 'nothing' : 'null';
    if (typeof value === 'string') return JSON.stringify(truncateText(value, 60));
    if (typeof value === 'number' || typeof value === 'bigint') {
      return typeof node.source === 'string' && node.source !== '' ? truncateText(node.source, 40) : String(value);
    }
    if (typeof value === 'boolean') return String(value);
    return typeof value;
  }
  if (isAlias(node)) return `an alias (*${node.source})`;
  return 'an unsupported value';
}
