// The process launcher's entry (launcher.ts forks it): runs the process groups
// its worker asks for and reports each one's start, exit and outcome. It
// imports only the process-group code, so it stays small: the smaller the
// process, the cheaper each fork. It exits when its worker's channel closes
// (the worker stopped or died); commands still running then go on in their
// own groups, as they would after the worker's own death, and the next worker
// on the work dir kills them (orphans.ts).

import type { LauncherEvent, LauncherRequest } from './launcher.js';
import { runCaptured } from './process-group.js';

const aborts = new Map<number, AbortController>();

function send(event: LauncherEvent): void {
  if (process.connected) process.send?.(event);
}

async function run(request: Extract<LauncherRequest, { type: 'run' }>): Promise<void> {
  const { id, run: options } = request;
  const abort = new AbortController();
  aborts.set(id, abort);
  try {
    const result = await runCaptured({
      ...options,
      signal: abort.signal,
      onStarted: (pid) => send({ type: 'started', id, pid }),
      onExited: () => send({ type: 'exited', id }),
    });
    send({ type: 'done', id, ...result });
  } finally {
    aborts.delete(id);
  }
}

if (process.send === undefined) {
  process.stderr.write('the process launcher runs only as a worker\'s child (launcher.ts)\n');
  process.exit(2);
}

process.on('message', (message: LauncherRequest) => {
  if (message.type === 'run') void run(message);
  else if (message.type === 'cancel') aborts.get(message.id)?.abort();
});
process.on('disconnect', () => process.exit(0));
