import { parser } from '@prometheus-io/lezer-promql';

/**
 * Metric names in PromQL, found by Prometheus's own grammar (the lezer
 * parser its web UI uses), so that label names, functions and keywords are
 * never taken for metrics. A query that does not parse is an error.
 */

/** Grafana's built-in interval variables, replaced by a duration before parsing. */
const grafanaVariables: readonly [RegExp, string][] = [
  [/\$__rate_interval\b/g, '5m'],
  [/\$__interval\b/g, '1m'],
  [/\$__range\b/g, '1h'],
];

export class PromqlSyntaxError extends Error {
  override readonly name = 'PromqlSyntaxError';
}

/** The metric names `expr` selects (`foo{…}`, or `{__name__="foo"}`). */
export function metricNames(expr: string): string[] {
  let text = expr;
  for (const [pattern, value] of grafanaVariables) text = text.replace(pattern, value);
  if (/\$\w/.test(text)) throw new PromqlSyntaxError(`unknown variable in ${JSON.stringify(expr)}`);
  const tree = parser.parse(text);
  const names: string[] = [];
  let errorAt = -1;
  tree.iterate({
    enter(node) {
      if (node.type.isError && errorAt < 0) errorAt = node.from;
      if (node.name === 'VectorSelector') {
        const identifier = node.node.getChild('Identifier');
        if (identifier !== null) names.push(text.slice(identifier.from, identifier.to));
      }
      if (node.name === 'UnquotedLabelMatcher' || node.name === 'LabelMatcher') {
        const label = node.node.getChild('LabelName');
        const value = node.node.getChild('StringLiteral');
        if (label !== null && value !== null && text.slice(label.from, label.to) === '__name__') names.push(text.slice(value.from + 1, value.to - 1));
      }
    },
  });
  if (errorAt >= 0) throw new PromqlSyntaxError(`PromQL syntax error at ${errorAt} in ${JSON.stringify(text)}`);
  return [...new Set(names)];
}

/**
 * The names a Prometheus text exposition defines: each `# TYPE` line's name
 * (a counter or gauge may have no sample yet: a labelled metric nobody
 * incremented), with `_bucket`, `_sum` and `_count` for histograms and
 * summaries, plus every sample's name.
 */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type !== null) {
      names.add(type[1]!);
      if (type[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${type[1]}${suffix}`);
      if (type[2] === 'summary') for (const suffix of ['_sum', '_count']) names.add(`${type[1]}${suffix}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample !== null) names.add(sample[1]!);
  }
  return names;
}

/** Series Prometheus makes itself for every target. */
export const prometheusSeries: ReadonlySet<string> = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

/** `where: name` for every metric the queries select that `known` lacks. */
export function unknownMetrics(queries: readonly { where: string; expr: string }[], known: ReadonlySet<string>): string[] {
  const unknown: string[] = [];
  for (const q of queries) {
    for (const name of metricNames(q.expr)) if (!known.has(name) && !prometheusSeries.has(name)) unknown.push(`${q.where}: ${name}`);
  }
  return unknown;
}
