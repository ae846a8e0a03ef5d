// Original file: proto/testudo.proto


export interface WorkerHello {
  'workerId'?: (string);
  'name'?: (string);
  'slots'?: (number);
  'httpAddress'?: (string);
  /**
   * JSON of Capabilities.
   */
  'capabilities'?: (string);
  /**
   * Attempts running now, and attempts whose results wait in the outbox.
   */
  'running'?: (string)[];
  'pending'?: (string)[];
  'version'?: (string);
  /**
   * The worker's session key (<work dir>/session-key): the first session of
   * an id binds the id to it, and later sessions under that id must present
   * the same key (docs/security-auth.md). Only its SHA-256 is replicated.
   */
  'sessionKey'?: (string);
  /**
   * The cluster the worker means to join (its --cluster-id); empty: any. A
   * leader of another cluster refuses the session (FAILED_PRECONDITION)
   * before registering the worker.
   */
  'clusterId'?: (string);
  /**
   * Attempts a previous process of this worker (same work dir) started and
   * did not see end: it died with them in flight (kill -9, a crash). The
   * leader counts each one still assigned to the worker as lost (a failure
   * its breaker sees) instead of sending it again.
   */
  'interrupted'?: (string)[];
  /**
   * Random per worker process: a new value under a known worker id is a new
   * process (a restart), the same one a reconnect of the same process.
   */
  'bootId'?: (string);
  /**
   * This process found its predecessor's work-dir lock left behind: the
   * predecessor died without stopping (kill -9, a crash, a power loss).
   */
  'uncleanStart'?: (boolean);
}

export interface WorkerHello__Output {
  'workerId': (string);
  'name': (string);
  'slots': (number);
  'httpAddress': (string);
  /**
   * JSON of Capabilities.
   */
  'capabilities': (string);
  /**
   * Attempts running now, and attempts whose results wait in the outbox.
   */
  'running': (string)[];
  'pending': (string)[];
  'version': (string);
  /**
   * The worker's session key (<work dir>/session-key): the first session of
   * an id binds the id to it, and later sessions under that id must present
   * the same key (docs/security-auth.md). Only its SHA-256 is replicated.
   */
  'sessionKey': (string);
  /**
   * The cluster the worker means to join (its --cluster-id); empty: any. A
   * leader of another cluster refuses the session (FAILED_PRECONDITION)
   * before registering the worker.
   */
  'clusterId': (string);
  /**
   * Attempts a previous process of this worker (same work dir) started and
   * did not see end: it died with them in flight (kill -9, a crash). The
   * leader counts each one still assigned to the worker as lost (a failure
   * its breaker sees) instead of sending it again.
   */
  'interrupted': (string)[];
  /**
   * Random per worker process: a new value under a known worker id is a new
   * process (a restart), the same one a reconnect of the same process.
   */
  'bootId': (string);
  /**
   * This process found its predecessor's work-dir lock left behind: the
   * predecessor died without stopping (kill -9, a crash, a power loss).
   */
  'uncleanStart': (boolean);
}
