// Original file: proto/testudo.proto


/**
 * Recovery level 3: let running attempts finish, clean the work dir (attempt
 * files, setup markers), then answer reset_done. The worker gets no new
 * work until then.
 */
export interface ResetWorker {
  'reason'?: (string);
}

/**
 * Recovery level 3: let running attempts finish, clean the work dir (attempt
 * files, setup markers), then answer reset_done. The worker gets no new
 * work until then.
 */
export interface ResetWorker__Output {
  'reason': (string);
}
