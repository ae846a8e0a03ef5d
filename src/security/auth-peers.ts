/**
 * Members this node has seen removed from the cluster, whose Raft messages
 * it drops ('non-member'), as etcd's transport drops removed members'.
 *
 * Unknown senders are not dropped: a follower that lags behind the log may
 * not yet know a member added later (possibly today's leader), and must
 * hear from it to catch up. Unknown nodes cannot connect anyway when the
 * cluster checks peer tokens (only the auth file's `peer` entries can). A
 * removed id that is added back is admitted again once the addition is applied.
 */
export class RemovedMembers {
  private known = new Set<string>();
  /** Removed ids, oldest first; at most `removedMembersMax`. */
  private readonly removed = new Set<string>();

  /** Call with the membership after every change (and at start). */
  observe(members: readonly string[]): void {
    const now = new Set(members);
    for (const id of this.known) if (!now.has(id)) this.remember(id);
    for (const id of now) this.removed.delete(id);
    this.known = now;
  }

  has(id: string): boolean {
    return this.removed.has(id);
  }

  private remember(id: string): void {
    this.removed.delete(id);
    this.removed.add(id);
    if (this.removed.size > removedMembersMax) this.removed.delete(this.removed.values().next().value!);
  }
}

/** Removed member ids remembered; the oldest is forgotten first. */
export const removedMembersMax = 1024;
