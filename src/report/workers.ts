// How reports name workers and link to attempt logs. A run view carries the
// name and HTTP address of each worker it used (`RunView.workers`); each
// worker serves an attempt's full log at /logs/<attemptId> (docs/reports.md).
import type { RunView } from '../model/types.js';

export type LogScheme = 'http' | 'https';

export interface WorkerDirectory {
  /** The worker's name, or its id when the view does not know it. */
  name(workerId: string): string;
  /** The attempt's full log on its worker, or '' when the worker serves none. */
  logUrl(workerId: string, attemptId: string): string;
}

/** `scheme` is `https` when the workers serve HTTP over TLS. */
export function workerDirectory(run: Pick<RunView, 'workers'> | undefined, scheme: LogScheme = 'http'): WorkerDirectory {
  const workers = run?.workers ?? {};
  return {
    name: (workerId) => {
      const name = workers[workerId]?.name ?? '';
      return name !== '' ? name : workerId;
    },
    logUrl: (workerId, attemptId) => {
      const address = workers[workerId]?.httpAddress ?? '';
      if (address === '' || attemptId === '') return '';
      return `${scheme}://${address}/logs/${encodeURIComponent(attemptId)}`;
    },
  };
}
