import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestudoClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/cluster/local-cluster.js';
import { leadersByTerm, missingWrites } from './harness.js';

/** The integration tests' checkers must be able to fail: each is shown a planted violation. */
describe('integration checkers catch planted violations', () => {
  it('leadersByTerm reports two leaders logged for one term', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'testudo-checker-'));
    try {
      const members = new Map<string, { logPath: string }>();
      for (const id of ['n1', 'n2']) {
        await mkdir(join(dir, id));
        const logPath = join(dir, id, 'coordinator.log');
        const line = (term: number, role: string): string => JSON.stringify({ nodeId: id, event: 'raft-state', term, leader: id, role });
        await writeFile(logPath, [line(4, 'follower'), line(5, 'leader'), 'not json but no event'].join('\n'));
        members.set(id, { logPath });
      }
      const byTerm = await leadersByTerm({ members } as unknown as LocalCluster);
      expect([...(byTerm.get(5) ?? [])].sort()).toEqual(['n1', 'n2']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('missingWrites reports an acknowledged write the cluster lost or changed', async () => {
    const stored = [
      { key: 'p/1', value: new TextEncoder().encode('1'), modIndex: 5 },
      { key: 'p/3', value: new TextEncoder().encode('x'), modIndex: 7 },
    ];
    const client = {
      async *listAll() {
        yield* stored;
      },
    } as unknown as TestudoClient;
    const acked = new Map([
      ['p/1', '1'],
      ['p/2', '2'],
      ['p/3', '3'],
    ]);
    expect(await missingWrites(client, acked, 'p')).toEqual(['p/2', 'p/3']);
  });
});
