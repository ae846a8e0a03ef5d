/**
 * The harness's own view of a chaos cluster: each coordinator's /status over
 * plain HTTP on its real address (never through a fault proxy), so what the
 * harness sees is not what the faults do to the cluster's links.
 */

/** The fields of a coordinator's /status the chaos module reads. */
export interface NodeStatus {
  readonly id: string;
  readonly term: number;
  readonly leader: string;
  readonly role: string;
  readonly commit: number;
  /** The index the state machine has applied (the digest is of that state). */
  readonly appliedToMachine: number;
  readonly digest: string;
}

/** Longest one /status request may take: a paused process never answers. */
export const statusTimeoutMs = 1_000;

/** The node's /status, or null when it does not answer (down, paused, slow). */
export async function fetchStatus(httpAddress: string, timeoutMs = statusTimeoutMs): Promise<NodeStatus | null> {
  try {
    const res = await fetch(`http://${httpAddress}/status`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    const body = (await res.json()) as Record<string, unknown>;
    return {
      id: String(body['id'] ?? ''),
      term: Number(body['term'] ?? 0),
      leader: String(body['leader'] ?? ''),
      role: String(body['role'] ?? ''),
      commit: Number(body['commit'] ?? 0),
      appliedToMachine: Number(body['appliedToMachine'] ?? 0),
      digest: String(body['digest'] ?? ''),
    };
  } catch {
    return null;
  }
}

/** Answers /readyz with 200. */
export async function isReady(httpAddress: string, timeoutMs = statusTimeoutMs): Promise<boolean> {
  try {
    const res = await fetch(`http://${httpAddress}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.text();
    return res.ok;
  } catch {
    return false;
  }
}

/** Of the answers, the leader of the highest term that has one, or null. */
export function leaderOf(statuses: ReadonlyArray<NodeStatus | null>): { id: string; term: number } | null {
  let best: { id: string; term: number } | null = null;
  for (const s of statuses) {
    if (s === null || s.role !== 'leader') continue;
    if (best === null || s.term > best.term) best = { id: s.id, term: s.term };
  }
  return best;
}

/**
 * PUTs (or DELETEs, with body null) a process's chaos-hook settings; throws
 * with the server's error. `token` is an admin token, for a process that
 * checks callers (a coordinator or worker with --auth-file); the chaos
 * harness's own clusters are loopback-only and open, so it passes none.
 */
export async function setChaosHooks(httpAddress: string, body: Record<string, number> | null, timeoutMs = 2_000, token: string | null = null): Promise<void> {
  const authorization: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  const init: RequestInit =
    body === null ? { method: 'DELETE', headers: authorization } : { method: 'PUT', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...authorization } };
  const res = await fetch(`http://${httpAddress}/chaos`, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`chaos hooks at ${httpAddress}: HTTP ${res.status}: ${text.trim()}`);
}
