// Original file: proto/testudo.proto


export interface SessionWelcome {
  'workerId'?: (string);
  'leaderId'?: (string);
  'heartbeatIntervalMs'?: (number);
  'ttlMs'?: (number);
  /**
   * The leader's cluster: a worker given a cluster id leaves a session whose
   * welcome names another (or none, from a coordinator too old to say).
   */
  'clusterId'?: (string);
}

export interface SessionWelcome__Output {
  'workerId': (string);
  'leaderId': (string);
  'heartbeatIntervalMs': (number);
  'ttlMs': (number);
  /**
   * The leader's cluster: a worker given a cluster id leaves a session whose
   * welcome names another (or none, from a coordinator too old to say).
   */
  'clusterId': (string);
}
