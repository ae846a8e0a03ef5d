import { decodeConfChange, EntryType, LevelDbStorage, type ConfState } from '../raft/index.js';

export interface DataDirReport {
  readonly dir: string;
  readonly nodeId: string;
  readonly hardState: { term: number; vote: string; commit: number };
  readonly snapshot: { index: number; term: number; dataBytes: number; confState: ConfState };
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly tail: readonly { index: number; term: number; type: string; bytes: number; change?: string }[];
}

/**
 * Opens a data directory read-only in effect (nothing is written), which
 * validates every record's CRC32C, and reports its Raft state. A damaged,
 * foreign or busy directory raises the storage's own clear error.
 */
export async function inspectDataDir(dir: string, nodeId: string, tailEntries: number): Promise<DataDirReport> {
  const storage = await LevelDbStorage.open(dir, { nodeId, createIfMissing: false });
  try {
    const { hardState } = storage.initialState();
    const snapshot = storage.snapshot();
    const first = storage.firstIndex();
    const last = storage.lastIndex();
    const from = Math.max(first, last - tailEntries + 1);
    const tail = from > last ? [] : storage.entries(from, last + 1, Number.POSITIVE_INFINITY).map((e) => {
      const change = e.type === EntryType.ConfChange ? decodeConfChange(e.data, e.index) : null;
      return {
        index: e.index,
        term: e.term,
        type: change === null ? 'normal' : 'conf-change',
        bytes: e.data.byteLength,
        ...(change === null ? {} : { change: `${['add-voter', 'add-learner', 'remove'][change.type]} ${change.nodeId}` }),
      };
    });
    return {
      dir,
      nodeId,
      hardState: { ...hardState },
      snapshot: { index: snapshot.metadata.index, term: snapshot.metadata.term, dataBytes: snapshot.data.byteLength, confState: snapshot.metadata.confState },
      firstIndex: first,
      lastIndex: last,
      lastTerm: storage.term(last),
      tail,
    };
  } finally {
    await storage.close();
  }
}
