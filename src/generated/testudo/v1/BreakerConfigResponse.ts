// Original file: proto/testudo.proto


export interface BreakerConfigResponse {
  /**
   * JSON of the settings in force afterwards.
   */
  'config'?: (string);
}

export interface BreakerConfigResponse__Output {
  /**
   * JSON of the settings in force afterwards.
   */
  'config': (string);
}
