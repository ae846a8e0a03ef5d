/** The chaos benchmark's report: Markdown and SVG charts, pure renderers over results.ts. */
export { renderBenchMarkdown, renderRunMarkdown, FAULT_ROWS_MAX, FINDINGS_MAX } from './markdown.js';
export { throughputChart, recoveryChart, THROUGHPUT_POINTS_MAX } from './svg.js';
export { CHART_SIZE_MIN_PX, CHART_SIZE_MAX_PX, niceStep, niceTicks } from './svg-kit.js';
export type { BenchCharts } from './markdown.js';
export type { ChartOptions, ThroughputChartOptions } from './svg.js';
