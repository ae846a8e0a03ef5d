// Original file: proto/testudo.proto


export interface GetRunResponse {
  /**
   * JSON of RunView, raw-deflated.
   */
  'run'?: (Buffer | Uint8Array | string);
  /**
   * Served from the report archive: the run was pruned from the state.
   */
  'archived'?: (boolean);
}

export interface GetRunResponse__Output {
  /**
   * JSON of RunView, raw-deflated.
   */
  'run': (Buffer);
  /**
   * Served from the report archive: the run was pruned from the state.
   */
  'archived': (boolean);
}
