import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitArchived } from '../../src/bench/schedule.js';
import { reportArchivePath } from '../../src/coordinator/runs-service.js';

// The schedule and makespan benchmarks wait for the warm-up run's report
// archives (written by every member shortly after a run ends) before they
// time the next run.
describe('waitArchived', () => {
  let root: string;
  let dirs: string[];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'testudo-wait-archived-'));
    dirs = ['n1', 'n2', 'n3'].map((id) => join(root, id));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const archive = async (dir: string, runId: string): Promise<void> => {
    const file = reportArchivePath(dir, runId);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, 'x');
  };

  it('returns once every member has the archive, archives written while it waits', async () => {
    await archive(dirs[0]!, 'run-1');
    const waiting = waitArchived(dirs, 'run-1', 10_000);
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(settled).toBe(false);
    await archive(dirs[1]!, 'run-1');
    await archive(dirs[2]!, 'run-1');
    expect(await waiting).toBe(true);
  });

  it("answers false when a member's archive is still missing at the end of the wait", async () => {
    await archive(dirs[0]!, 'run-1');
    await archive(dirs[1]!, 'run-1');
    // Another run's archive does not count.
    await archive(dirs[2]!, 'run-2');
    expect(await waitArchived(dirs, 'run-1', 200)).toBe(false);
  });
});
