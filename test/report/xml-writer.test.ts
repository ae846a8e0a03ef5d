import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { element, renderXmlDocument, text, XmlWriteError, xmlDepthMax, type XmlElement } from '../../src/report/xml-writer.js';

describe('xml-writer', () => {
  it('indents element-only content and writes text verbatim, escaped, on the element line', () => {
    const doc = renderXmlDocument(
      element('a', [['x', 1], ['skip', undefined], ['y', 'q"<\n>']], [element('b'), element('c', [], [text('line 1\n  line 2 & <3>')])]),
    );
    expect(doc).toBe(
      '<?xml version="1.0" encoding="UTF-8"?>\n<a x="1" y="q&quot;&lt;&#10;&gt;">\n  <b/>\n  <c>line 1\n  line 2 &amp; &lt;3&gt;</c>\n</a>\n',
    );
    expect(XMLValidator.validate(doc)).toBe(true);
    const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', trimValues: false, processEntities: true }).parse(doc) as {
      a: { '@_y': string; c: string };
    };
    expect(parsed.a.c).toBe('line 1\n  line 2 & <3>');
  });

  it('writes mixed content without added whitespace and drops empty text', () => {
    const doc = renderXmlDocument(element('p', [], [text('a'), element('b', [], [text('b')]), text(''), text('c')]));
    expect(doc).toContain('<p>a<b>b</b>c</p>');
    expect(renderXmlDocument(element('e', [], [text('')]))).toContain('<e/>');
  });

  it('refuses bad names, repeated attributes and trees deeper than xmlDepthMax', () => {
    expect(() => element('a b')).toThrow(XmlWriteError);
    expect(() => element('a', [['x"', 1]])).toThrow(/attribute name/);
    expect(() => element('a', [['x', 1], ['x', 2]])).toThrow(/twice/);
    let deep: XmlElement = element('leaf');
    for (let i = 0; i < xmlDepthMax; i++) deep = element('n', [], [deep]);
    expect(() => renderXmlDocument(deep)).toThrow(/deeper/);
  });
});
