import { describe, expect, it } from 'vitest';
import { hardStateToWrite } from '../../src/raft/node/ready-write.js';
import { EntryType, type Entry, type HardState, type Ready } from '../../src/raft/core/types.js';

const written: HardState = { term: 3, vote: 'n1', commit: 10 };

function ready(fields: Partial<Ready>): Ready {
  return { softState: null, hardState: null, entries: [], snapshot: null, committedEntries: [], messages: [], readStates: [], readFailures: [], mustSync: false, ...fields };
}

function entry(index: number, type: EntryType = EntryType.Normal): Entry {
  return { index, term: 3, type, data: new Uint8Array([1]) };
}

describe('hardStateToWrite', () => {
  it('leaves out a change of the commit alone', () => {
    const hs = { ...written, commit: 11 };
    expect(hardStateToWrite(ready({ hardState: hs, committedEntries: [entry(11)] }), written, hs)).toBeNull();
  });

  it('writes a new term or vote, with the commit it carries', () => {
    const term = { term: 4, vote: '', commit: 11 };
    expect(hardStateToWrite(ready({ hardState: term, mustSync: true }), written, term)).toEqual(term);
    const vote = { term: 3, vote: 'n2', commit: 10 };
    expect(hardStateToWrite(ready({ hardState: vote, mustSync: true }), { ...written, vote: '' }, vote)).toEqual(vote);
  });

  it('lets the newest commit ride along with entries, even one an earlier Ready handed out', () => {
    const latest = { ...written, commit: 12 };
    expect(hardStateToWrite(ready({ entries: [entry(13)], mustSync: true }), written, latest)).toEqual(latest);
    expect(hardStateToWrite(ready({ snapshot: { metadata: { index: 20, term: 3, confState: { voters: ['n1'], learners: [] } }, data: new Uint8Array() }, mustSync: true }), written, latest)).toEqual(latest);
  });

  it('writes the commit of a Ready that hands out a membership change to apply', () => {
    const hs = { ...written, commit: 11 };
    expect(hardStateToWrite(ready({ hardState: hs, committedEntries: [entry(11, EntryType.ConfChange)] }), written, hs)).toEqual(hs);
    // Committed earlier (its commit left out then), handed out now.
    expect(hardStateToWrite(ready({ committedEntries: [entry(11, EntryType.ConfChange)] }), written, hs)).toEqual(hs);
  });

  it('writes nothing when nothing changed since the last write', () => {
    expect(hardStateToWrite(ready({ entries: [entry(11)], mustSync: true }), written, written)).toBeNull();
    expect(hardStateToWrite(ready({}), written, written)).toBeNull();
  });
});
