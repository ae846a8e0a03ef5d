// Submit a run from a program and follow it to its end: what `testudo run`
// does, through the library. Compiled against the packed package's types by
// test/pack/pack-install.test.ts (so is the copy in the README).
import { TestudoClient, expandSpec, loadSpec, type RunSummary } from 'testudo';

const spec = await loadSpec('testudo.yaml'); // throws SpecError, with line and column, on a bad spec
const submission = await expandSpec(spec); // suites x matrix x shards -> tasks, files resolved

const client = new TestudoClient({ endpoints: ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'] });
try {
  const { runId, tasks } = await client.submitRun(submission);
  console.error(`run ${runId}: ${tasks} tasks`);
  let last: RunSummary | undefined;
  for await (const summary of client.watchRun(runId)) {
    last = summary; // the stream ends when the run does; failovers are followed
    console.error(`${summary.state}: ${summary.counts.passed} passed, ${summary.counts.failed} failed of ${summary.counts.tasks}`);
  }
  process.exitCode = last?.state === 'passed' ? 0 : 1;
} finally {
  client.close();
}
