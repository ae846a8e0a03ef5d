// Original file: proto/testudo.proto


export interface ListRequest {
  'prefix'?: (string);
  /**
   * Keys strictly after this one (for paging); empty: from the start.
   */
  'startAfter'?: (string);
  /**
   * 0 means the server's default (1000); never more than 10000.
   */
  'limit'?: (number);
  'stale'?: (boolean);
}

export interface ListRequest__Output {
  'prefix': (string);
  /**
   * Keys strictly after this one (for paging); empty: from the start.
   */
  'startAfter': (string);
  /**
   * 0 means the server's default (1000); never more than 10000.
   */
  'limit': (number);
  'stale': (boolean);
}
