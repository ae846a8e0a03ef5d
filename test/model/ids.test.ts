import { describe, expect, it } from 'vitest';

import { attemptIdOf, parseAttemptId, taskIdOf } from '../../src/model/index.js';

describe('task and attempt ids', () => {
  it('reads back what it builds', () => {
    const taskId = taskIdOf('r-2026.12', 7);
    const attemptId = attemptIdOf(taskId, 3);
    expect(taskId).toBe('r-2026.12.t7');
    expect(attemptId).toBe('r-2026.12.t7.a3');
    expect(parseAttemptId(attemptId)).toEqual({ runId: 'r-2026.12', taskId, taskNumber: 7, attemptNumber: 3 });
  });

  it('refuses what is not an attempt id', () => {
    for (const text of ['', 'r1', 'r1.t1', '.t1.a1', 'r1.t.a1', 'r1.t1.a', 'r1.t1.a1 ', 'r1.a1']) {
      expect(parseAttemptId(text)).toBeUndefined();
    }
  });
});
