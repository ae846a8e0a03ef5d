// Bounds on everything the worker reads from or keeps for a test command:
// report strings, report size, output kept in memory and on disk, outbox
// entries. Each limit is here so the worker's memory and disk use stay bounded
// however a command misbehaves.

/** A JUnit failure/error message (UTF-8 bytes, truncated beyond). */
export const junitMessageBytesMax = 2 * 1024;
/** A JUnit failure/error body: stack or details (UTF-8 bytes). */
export const junitDetailsBytesMax = 16 * 1024;
/** Test case classname, name, file and failure type (UTF-8 bytes). */
export const junitNameBytesMax = 1024;
/** Test cases in one report; a report with more is rejected as malformed. */
export const testCasesMax = 20_000;
/** A JUnit report file read from disk; a larger one is a malformed report. */
export const junitReportBytesMax = 64 * 1024 * 1024;
/** A JUnit report up to this size is read synchronously (src/worker/executor.ts says why); a larger one through the thread pool. */
export const junitReportReadInPlaceBytesMax = 256 * 1024;
/** Nesting depth of XML elements in a JUnit report. */
export const junitNestingMax = 100;

/** Marker appended to a truncated string (counted within its bound). */
export const truncationMarker = '…[truncated]';

/** Default last bytes of stdout+stderr kept in memory and reported. */
export const outputTailBytesDefault = 8192;
/** Default cap of the full output log on disk. */
export const logBytesMaxDefault = 64 * 1024 * 1024;
/** Default delay between SIGTERM and SIGKILL to a process group. */
export const killGraceMsDefault = 5000;
/**
 * After the command's shell exits (and its group is killed), how long to wait
 * for the output pipes to close before giving up on them (a process that left
 * the group with setsid can hold them open).
 */
export const pipeDrainMsMax = 2000;

/**
 * A result the coordinators have not confirmed this long after the outbox
 * wrote it is synced to disk (fdatasync); one confirmed sooner never is
 * (outbox.ts, "Deferred sync"). 0 syncs each burst before its puts resolve.
 */
export const outboxSyncDelayMsDefault = 100;
/** Longest --outbox-sync-ms. */
export const outboxSyncDelayMsMax = 60_000;
/** Default number of unconfirmed results the outbox holds. */
export const outboxEntriesMaxDefault = 10_000;
/**
 * Failure messages and details of all the tests of one result together
 * (UTF-8 bytes). Beyond it, later failures keep a short message and no details,
 * so a report with thousands of failing tests still makes a result of bounded
 * size (names stay: at most testCasesMax × 3 × junitNameBytesMax).
 */
export const resultFailureTextBytesMax = 1024 * 1024;
/** Message bytes a failure keeps once the result's failure-text budget is spent. */
export const overBudgetMessageBytes = 256;
/**
 * An outbox file of the previous one-file-per-result format larger than this
 * is corrupt (read only to migrate old work dirs).
 */
export const outboxFileBytesMax = 512 * 1024 * 1024;
/**
 * One outbox record (a result as JSON): a larger result is refused by the
 * outbox (it is still sent, just not kept across a restart). Equal to the
 * coordinator's default message limit, which a larger result would not pass.
 */
export const outboxRecordBytesMax = 16 * 1024 * 1024;
/** All unconfirmed results in the outbox together (record bytes); beyond it puts fail as full. */
export const outboxLiveBytesMax = 256 * 1024 * 1024;
/**
 * An outbox segment file: the writer rolls to a new segment before passing it
 * (with the live bound above a compacted segment stays far below), and on open
 * a larger file is not read but set aside as corrupt.
 */
export const outboxSegmentBytesMax = 1024 * 1024 * 1024;
/** The active outbox segment is compacted once over this size and twice the live records' size. */
export const outboxCompactBytesMin = 4 * 1024 * 1024;
/** Segment files read on open (normally one, two after a crash mid-compaction); older extras are set aside. */
export const outboxSegmentsMax = 64;

/** Default timeout of a run's setup commands, all together. */
export const setupTimeoutMsDefault = 30 * 60 * 1000;

/** Label keys and values (capabilities). */
export const labelKeyPattern = /^[a-z0-9_.\-/]{1,63}$/;
export const labelValueCharsMax = 256;

/**
 * Truncates `text` to at most `maxBytes` UTF-8 bytes, marker included, cutting
 * on a character boundary and ending with {@link truncationMarker} when cut.
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length <= maxBytes / 3) return text; // at most 3 bytes per UTF-16 unit
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  const markerBytes = Buffer.byteLength(truncationMarker, 'utf8');
  const budget = Math.max(0, maxBytes - markerBytes);
  return utf8Prefix(bytes, budget) + (maxBytes >= markerBytes ? truncationMarker : '');
}

/** The longest prefix of `bytes` of at most `maxBytes` that ends on a character boundary, decoded. */
export function utf8Prefix(bytes: Buffer, maxBytes: number): string {
  let end = Math.min(maxBytes, bytes.length);
  // Back off over continuation bytes (10xxxxxx) so as not to split a character.
  if (end < bytes.length) {
    while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  }
  return bytes.subarray(0, end).toString('utf8');
}

/** The longest suffix of `bytes` of at most `maxBytes` that starts on a character boundary, decoded. */
export function utf8Suffix(bytes: Buffer, maxBytes: number): string {
  let start = Math.max(0, bytes.length - maxBytes);
  while (start < bytes.length && ((bytes[start] ?? 0) & 0xc0) === 0x80) start++;
  return bytes.subarray(start).toString('utf8');
}
