import { EntryType, type Entry } from '../../src/raft/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A client write as it travels through the log. */
export interface KvCommand {
  readonly clientId: number;
  readonly opId: number;
  readonly key: string;
  readonly value: string;
}

export function encodeCommand(command: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify([command.clientId, command.opId, command.key, command.value]));
}

export function decodeCommand(data: Uint8Array): KvCommand | null {
  if (data.byteLength === 0) return null;
  const [clientId, opId, key, value] = JSON.parse(decoder.decode(data)) as [number, number, string, string];
  return { clientId, opId, key, value };
}

/** FNV-1a over a string, folded into a running 32-bit digest. */
function fold(digest: number, text: string): number {
  let h = digest ^ 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The simulated application: a map from keys to values plus a digest of every
 * entry applied so far, so replicas can be compared at any index.
 */
export class KvStore {
  private readonly data = new Map<string, string>();
  appliedIndex = 0;
  digest = 0;

  /** Applies one committed entry; returns the write it carried, if any. */
  apply(entry: Entry): KvCommand | null {
    this.appliedIndex = entry.index;
    this.digest = fold(this.digest, `${entry.index}/${entry.term}/${entry.type}/${decoder.decode(entry.data)}`);
    if (entry.type !== EntryType.Normal) return null;
    const command = decodeCommand(entry.data);
    if (command !== null) this.data.set(command.key, command.value);
    return command;
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  serialize(): Uint8Array {
    const keys = [...this.data.keys()].sort();
    return encoder.encode(JSON.stringify({ index: this.appliedIndex, digest: this.digest, data: keys.map((k) => [k, this.data.get(k)]) }));
  }

  static restore(bytes: Uint8Array): KvStore {
    const store = new KvStore();
    if (bytes.byteLength === 0) return store;
    const parsed = JSON.parse(decoder.decode(bytes)) as { index: number; digest: number; data: [string, string][] };
    store.appliedIndex = parsed.index;
    store.digest = parsed.digest;
    for (const [k, v] of parsed.data) store.data.set(k, v);
    return store;
  }
}
