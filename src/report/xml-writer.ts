// A small XML writer: the reports build a tree of elements and this file
// alone turns it into text, so escaping is decided in one place (no report
// concatenates markup by hand).
import { escapeXmlAttr, escapeXmlText } from './xml-escape.js';

export type XmlAttributeValue = string | number;

export interface XmlElement {
  readonly kind: 'element';
  readonly name: string;
  /** In the order they are written; names are unique. */
  readonly attributes: ReadonlyArray<readonly [string, XmlAttributeValue]>;
  readonly children: readonly XmlNode[];
}

export interface XmlText {
  readonly kind: 'text';
  readonly text: string;
}

export type XmlNode = XmlElement | XmlText;

/** An element or attribute name (ASCII subset of XML's Name production). */
const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

/** Deeper trees are refused: reports are a few levels deep, and the writer recurses. */
export const xmlDepthMax = 64;

export class XmlWriteError extends Error {
  override readonly name = 'XmlWriteError';
}

function assertName(name: string, what: string): void {
  if (!NAME.test(name)) throw new XmlWriteError(`invalid XML ${what} name: ${JSON.stringify(name)}`);
}

/**
 * An element. Attributes whose value is `undefined` are left out, so optional
 * attributes read as one list.
 */
export function element(
  name: string,
  attributes: ReadonlyArray<readonly [string, XmlAttributeValue | undefined]> = [],
  children: ReadonlyArray<XmlNode | undefined> = [],
): XmlElement {
  assertName(name, 'element');
  const seen = new Set<string>();
  const kept: Array<readonly [string, XmlAttributeValue]> = [];
  for (const [key, value] of attributes) {
    assertName(key, 'attribute');
    if (seen.has(key)) throw new XmlWriteError(`attribute ${key} twice on <${name}>`);
    seen.add(key);
    if (value !== undefined) kept.push([key, value]);
  }
  return { kind: 'element', name, attributes: kept, children: children.filter((c): c is XmlNode => c !== undefined) };
}

/** Character data; an empty string writes nothing. */
export function text(value: string): XmlText {
  return { kind: 'text', text: value };
}

export interface XmlWriteOptions {
  /** Indentation per level for element-only content (default two spaces). */
  readonly indent?: string;
}

/**
 * The document: an XML declaration, then the root. Elements whose children
 * are all elements are indented one per line; an element holding text is
 * written on one line with its text verbatim (escaped), so that line breaks in
 * a failure body are the body's own and no whitespace is added to it.
 */
export function renderXmlDocument(root: XmlElement, options: XmlWriteOptions = {}): string {
  const indent = options.indent ?? '  ';
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  writeElement(root, indent, 0, out);
  out.push('\n');
  return out.join('');
}

function openTag(node: XmlElement): string {
  const attrs = node.attributes.map(([k, v]) => ` ${k}="${escapeXmlAttr(String(v))}"`).join('');
  return `<${node.name}${attrs}`;
}

function writeElement(node: XmlElement, indent: string, depth: number, out: string[]): void {
  if (depth >= xmlDepthMax) throw new XmlWriteError(`XML tree deeper than ${xmlDepthMax}`);
  const children = node.children.filter((c) => c.kind === 'element' || c.text !== '');
  if (children.length === 0) {
    out.push(`${openTag(node)}/>`);
    return;
  }
  out.push(`${openTag(node)}>`);
  if (children.some((c) => c.kind === 'text')) {
    // Mixed or text content: no added whitespace.
    for (const child of children) {
      if (child.kind === 'text') out.push(escapeXmlText(child.text));
      else writeElement(child, '', depth + 1, out);
    }
  } else {
    const pad = indent === '' ? '' : `\n${indent.repeat(depth + 1)}`;
    for (const child of children) {
      out.push(pad);
      writeElement(child as XmlElement, indent, depth + 1, out);
    }
    if (indent !== '') out.push(`\n${indent.repeat(depth)}`);
  }
  out.push(`</${node.name}>`);
}
