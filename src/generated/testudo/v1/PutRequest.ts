// Original file: proto/testudo.proto


export interface PutRequest {
  'key'?: (string);
  'value'?: (Buffer | Uint8Array | string);
  /**
   * A retried write with the same key applies once; the retry gets the
   * first attempt's result with `duplicate` set. Empty: no deduplication.
   */
  'idempotencyKey'?: (string);
}

export interface PutRequest__Output {
  'key': (string);
  'value': (Buffer);
  /**
   * A retried write with the same key applies once; the retry gets the
   * first attempt's result with `duplicate` set. Empty: no deduplication.
   */
  'idempotencyKey': (string);
}
