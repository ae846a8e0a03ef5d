// The two streams every command writes to: results and data on `out`
// (stdout), progress, notes, warnings and errors on `err` (stderr), so that
// `testudo … --json | jq` reads only data (docs/cli.md#streams).

export type Write = (text: string) => void;

export interface CliIo {
  /** Results and data only: tables, reports' summaries, exactly one JSON document with --json. */
  readonly out: Write;
  /** Everything else: progress, notes, warnings, errors. */
  readonly err: Write;
}
