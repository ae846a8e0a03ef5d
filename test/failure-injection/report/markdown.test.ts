import { describe, expect, it } from 'vitest';
import { FAULT_ROWS_MAX, FINDINGS_MAX, renderBenchMarkdown, renderRunMarkdown } from '../../../src/failure-injection/report/index.js';
import { bench, checks, fault, headerAfter, rowOf, run, tableAfter } from './fixtures.js';

describe('renderBenchMarkdown', () => {
  const md = renderBenchMarkdown(bench());

  it('titles the report with scenario and seed and passes a clean bench', () => {
    expect(md.split('\n')[0]).toBe('# Chaos benchmark: mixed-faults (seed 42)');
    expect(md).toContain('Safety: **PASS**');
    expect(md).not.toContain('FAIL');
  });

  it('puts every safety check in its row with both modes and the bench total', () => {
    const rows = tableAfter(md, '## Safety checks');
    expect(headerAfter(md, '## Safety checks')).toEqual(['Check', 'breaker', 'no-breaker', 'Bench', 'Result']);
    expect(rowOf(rows, 'Lost tasks')).toEqual(['Lost tasks', '0', '0', '0', 'PASS']);
    expect(rowOf(rows, 'Duplicate results')).toEqual(['Duplicate results', '0', '0', '0', 'PASS']);
    expect(rowOf(rows, 'Divergent replicas')).toEqual(['Divergent replicas', '0', '0', '0', 'PASS']);
    expect(rowOf(rows, 'Split-brain terms')).toEqual(['Split-brain terms', '0', '0', '0', 'PASS']);
    expect(rowOf(rows, 'Steady-state violations')).toEqual(['Steady-state violations', '0', '0', '—', 'PASS']);
    expect(rowOf(rows, 'Ready')).toEqual(['Ready', 'yes (1.20 s)', 'yes (2.50 s)', '—', 'PASS']);
    expect(md).toContain('No findings.');
  });

  it('puts both modes side by side', () => {
    const rows = tableAfter(md, '## Both modes');
    expect(headerAfter(md, '## Both modes')).toEqual(['Figure', 'breaker', 'no-breaker']);
    expect(rowOf(rows, 'Tasks')).toEqual(['Tasks', '200', '200']);
    expect(rowOf(rows, 'Passed')).toEqual(['Passed', '195', '180']);
    expect(rowOf(rows, 'Failed')).toEqual(['Failed', '5', '20']);
    expect(rowOf(rows, 'Failed-infra')).toEqual(['Failed-infra', '3', '14']);
    expect(rowOf(rows, 'Success rate')).toEqual(['Success rate', '97.5%', '90.0%']);
    expect(rowOf(rows, 'Infra retries')).toEqual(['Infra retries', '17', '41']);
    expect(rowOf(rows, 'Makespan (s)')).toEqual(['Makespan (s)', '62.3', '75.1']);
    expect(rowOf(rows, 'Baseline throughput (tasks/s)')).toEqual(['Baseline throughput (tasks/s)', '4.20', '4.18']);
    expect(rowOf(rows, 'CPU seconds')).toEqual(['CPU seconds', '35.3', '40.5']);
    expect(rowOf(rows, 'Workers quarantined after healing')).toEqual(['Workers quarantined after healing', '1', '0']);
    expect(rowOf(rows, 'Leader terms')).toEqual(['Leader terms', '3', '3']);
    expect(rowOf(rows, 'Peak RSS (MiB)')).toEqual(['Peak RSS (MiB)', '512.0', '600.0']);
  });

  it('states the headline ratios with their basis', () => {
    const rows = tableAfter(md, '## Headline');
    expect(rowOf(rows, 'Recovery time reduction')).toEqual([
      'Recovery time reduction',
      '+42.5%',
      'median time to 90% throughput: 3.20 s with breakers, 6.50 s without',
    ]);
    expect(rowOf(rows, 'Success rate gain')).toEqual(['Success rate gain', '+8.3%', 'success rate 97.5% with breakers, 90.0% without']);
  });

  it('says n/a and why when a ratio is null', () => {
    const noRecovery = bench({
      recoveryTimeReductionPct: null,
      successRateGainPct: null,
      withoutBreaker: run('no-breaker', { successRate: 0, passed: 0, faults: run('no-breaker').faults.map((f) => ({ ...f, throughputBackMs: null })) }),
    });
    const rows = tableAfter(renderBenchMarkdown(noRecovery), '## Headline');
    const recovery = rowOf(rows, 'Recovery time reduction');
    expect(recovery[1]).toBe('n/a');
    expect(recovery[2]).toContain('throughput never came back to 90% of the baseline after any fault of the no-breaker run');
    expect(rowOf(rows, 'Success rate gain')).toEqual(['Success rate gain', 'n/a', 'the no-breaker success rate is 0, so a relative gain is undefined']);

    const noFaults = bench({ recoveryTimeReductionPct: null, withBreaker: run('breaker', { faults: [], byFault: [] }), withoutBreaker: run('no-breaker', { faults: [], byFault: [] }) });
    const md2 = renderBenchMarkdown(noFaults);
    expect(rowOf(tableAfter(md2, '## Headline'), 'Recovery time reduction')[2]).toBe('no faults were injected');
    expect(md2).toContain('## By fault type and intensity\n\nCounts and median times after injection; — where no fault of the group had the figure.\n\nNo faults were injected.');
  });

  it('joins the fault groups of both modes per type × intensity in catalog order', () => {
    expect(headerAfter(md, '## By fault type and intensity')).toEqual([
      'Fault', 'Intensity',
      'Count (breaker)', 'Count (no-breaker)',
      'Detect (breaker)', 'Detect (no-breaker)',
      'New leader (breaker)', 'New leader (no-breaker)',
      'First write (breaker)', 'First write (no-breaker)',
      '90% throughput (breaker)', '90% throughput (no-breaker)',
    ]);
    const rows = tableAfter(md, '## By fault type and intensity');
    expect(rows.map((r) => `${r[0]}/${r[1]}`)).toEqual(['kill/severe', 'latency/moderate', 'worker-crash/moderate', 'worker-crash/severe', 'worker-hang/severe']);
    expect(rows[0]).toEqual(['kill', 'severe', '1', '1', '900 ms', '950 ms', '1.50 s', '1.60 s', '1.70 s', '1.90 s', '3.20 s', '6.50 s']);
    expect(rows[1]).toEqual(['latency', 'moderate', '1', '1', '2.50 s', '—', '—', '—', '300 ms', '320 ms', '1.00 s', '1.20 s']);
    expect(rows[2]).toEqual(['worker-crash', 'moderate', '1', '0', '600 ms', '—', '—', '—', '50 ms', '—', '4.00 s', '—']);
    expect(rows[3]).toEqual(['worker-crash', 'severe', '0', '1', '—', '700 ms', '—', '—', '—', '60 ms', '—', '12.0 s']);
    expect(rows[4]).toEqual(['worker-hang', 'severe', '1', '1', '—', '10.0 s', '—', '—', '20 ms', '25 ms', '—', '—']);
  });

  it('lists every injected fault of each mode with its adaptation', () => {
    const breaker = tableAfter(md, '### breaker (4)');
    expect(breaker).toHaveLength(4);
    expect(breaker[0]).toEqual(['1', '10.0 s', '25.0 s', 'kill', 'severe', 'leader', 'n1', '—']);
    expect(breaker[2]).toEqual(['3', '42.0 s', '47.0 s', 'worker-crash', 'moderate', 'worker', 'w1', 'lowered from severe: breaker half-open on w1']);
    expect(breaker[3]).toEqual(['4', '50.0 s', '50.0 s', 'worker-hang', 'severe', 'worker', '—', 'skipped (wanted severe): breaker open on w2']);
    const noBreaker = tableAfter(md, '### no-breaker (4)');
    expect(noBreaker.map((r) => r[3])).toEqual(['kill', 'latency', 'worker-crash', 'worker-hang']);
    expect(noBreaker[3]).toEqual(['4', '50.0 s', '70.0 s', 'worker-hang', 'severe', 'worker', 'w2', '—']);
  });

  it('explains every figure', () => {
    const notes = md.slice(md.indexOf('## What the figures mean'));
    for (const name of ['Lost tasks', 'Ready', 'Success rate', 'Makespan', 'Baseline throughput', 'Peak RSS', 'Time to detect', 'Time to 90% throughput', 'Recovery time reduction', 'Success rate gain']) {
      expect(notes).toContain(`- **${name}**: `);
    }
  });

  it('links the charts it is given', () => {
    expect(md).not.toContain('## Charts');
    const linked = renderBenchMarkdown(bench(), { throughputSvg: 'throughput.svg', recoverySvg: 'recovery (1).svg' });
    expect(linked).toContain('![Throughput over time](throughput.svg)');
    expect(linked).toContain('![Median time to 90% throughput by fault](recovery%20%281%29.svg)');
  });

  it('is deterministic', () => {
    expect(renderBenchMarkdown(bench())).toBe(md);
  });
});

describe('renderBenchMarkdown shows failures', () => {
  it('flips a count check to FAIL and lists the finding', () => {
    const failing = bench({
      lostTasks: 2,
      withBreaker: run('breaker', { checks: checks({ lostTasks: 2, findings: ['task t7 | never ended\nlast seen on w1'] }) }),
    });
    const md = renderBenchMarkdown(failing);
    expect(md).toContain('Safety: **FAIL**');
    const rows = tableAfter(md, '## Safety checks');
    expect(rowOf(rows, 'Lost tasks')).toEqual(['Lost tasks', '2', '0', '2', 'FAIL']);
    expect(rowOf(rows, 'Duplicate results')[4]).toBe('PASS');
    expect(md).toContain('- **breaker**: task t7 \\| never ended last seen on w1');
  });

  it.each(['duplicateResults', 'divergentReplicas', 'splitBrainTerms'] as const)('fails on a non-zero %s in the bench totals alone', (key) => {
    const md = renderBenchMarkdown(bench({ [key]: 1 }));
    expect(md).toContain('Safety: **FAIL**');
    expect(tableAfter(md, '## Safety checks').filter((r) => r[4] === 'FAIL')).toHaveLength(1);
  });

  it('fails when a run was not ready', () => {
    const md = renderBenchMarkdown(bench({ withoutBreaker: run('no-breaker', { checks: checks({ ready: false, readyMs: null }) }) }));
    expect(rowOf(tableAfter(md, '## Safety checks'), 'Ready')).toEqual(['Ready', 'yes (1.20 s)', 'no (never)', '—', 'FAIL']);
    expect(md).toContain('Safety: **FAIL**');
  });
});

describe('Markdown escaping', () => {
  it('keeps pipes and newlines inside their cells', () => {
    const odd = fault({
      type: 'kill',
      intensity: 'mild',
      targets: ['n1|x', 'n2\nn3'],
      adapted: { wanted: 'severe', reason: 'cap | mild\nby breaker' },
      injectedAtMs: 1_000,
      healedAtMs: 2_000,
    });
    const md = renderBenchMarkdown(bench({ scenario: 'a|b\nc', withBreaker: run('breaker', { faults: [odd] }) }));
    expect(md.split('\n')[0]).toBe('# Chaos benchmark: a\\|b c (seed 42)');
    const rows = tableAfter(md, '### breaker (1)');
    expect(rows).toEqual([['1', '1.0 s', '2.0 s', 'kill', 'mild', 'follower', 'n1\\|x, n2 n3', 'lowered from severe: cap \\| mild by breaker']]);
  });

  it('bounds the fault list', () => {
    const many = Array.from({ length: FAULT_ROWS_MAX + 50 }, (_, i) => fault({ type: 'pause', intensity: 'mild', injectedAtMs: i * 1000, healedAtMs: i * 1000 + 500 }));
    const md = renderRunMarkdown(run('breaker', { faults: many }));
    expect(tableAfter(md, `## Injected faults (${FAULT_ROWS_MAX + 50})`)).toHaveLength(FAULT_ROWS_MAX);
    expect(md).toContain('…and 50 more faults (see the JSON).');
  });
});

describe('renderRunMarkdown bounds', () => {
  it('bounds the findings', () => {
    const findings = Array.from({ length: FINDINGS_MAX + 3 }, (_, i) => `task t${i} lost`);
    const md = renderRunMarkdown(run('breaker', { checks: checks({ lostTasks: findings.length, findings }) }));
    expect(md.match(/^- \*\*breaker\*\*: task t\d+ lost$/gm)).toHaveLength(FINDINGS_MAX);
    expect(md).toContain('- **breaker**: …and 3 more findings (see the JSON).');
  });
});

describe('renderRunMarkdown', () => {
  const md = renderRunMarkdown(run('no-breaker'));

  it('renders the checks, the figures and the faults of one mode', () => {
    expect(md.split('\n')[0]).toBe('# Chaos run: mixed-faults (seed 42, no-breaker)');
    expect(md).toContain('Safety: **PASS**');
    expect(headerAfter(md, '## Safety checks')).toEqual(['Check', 'no-breaker', 'Result']);
    expect(rowOf(tableAfter(md, '## Safety checks'), 'Ready')).toEqual(['Ready', 'yes (2.50 s)', 'PASS']);
    expect(rowOf(tableAfter(md, '## Figures'), 'Success rate')).toEqual(['Success rate', '90.0%']);
    expect(headerAfter(md, '## By fault type and intensity')).toEqual(['Fault', 'Intensity', 'Count', 'Detect', 'New leader', 'First write', '90% throughput']);
    expect(tableAfter(md, '## By fault type and intensity')[0]).toEqual(['kill', 'severe', '1', '950 ms', '1.60 s', '1.90 s', '6.50 s']);
    expect(tableAfter(md, '## Injected faults (4)')).toHaveLength(4);
    expect(md).toContain('- **Time to new leader**: ');
    expect(md).not.toContain('Recovery time reduction');
  });

  it('fails a run with split-brain', () => {
    const failing = renderRunMarkdown(run('breaker', { checks: checks({ splitBrainTerms: 1, findings: ['term 7: n1 and n2 both leader'] }) }));
    expect(failing).toContain('Safety: **FAIL**');
    expect(rowOf(tableAfter(failing, '## Safety checks'), 'Split-brain terms')).toEqual(['Split-brain terms', '1', 'FAIL']);
    expect(failing).toContain('- **breaker**: term 7: n1 and n2 both leader');
  });

  it('fails a run that broke its steady-state hypotheses', () => {
    const failing = renderRunMarkdown(run('breaker', { checks: checks({ steadyStateViolations: 1, findings: ['steady-state: success rate 80.0% is below minSuccessRate 95.0%'] }) }));
    expect(failing).toContain('Safety: **FAIL**');
    expect(rowOf(tableAfter(failing, '## Safety checks'), 'Steady-state violations')).toEqual(['Steady-state violations', '1', 'FAIL']);
  });
});
