// The YAML-checking kit shared by the run spec parser (src/spec) and the chaos
// scenario parser (src/failure-injection/scenario): located errors, the
// problem list, document and node helpers, value readers, path and
// suggestion wording.

export { YamlCheckError, ProblemList, TooManyProblems, YAML_PROBLEMS_MAX, locationText, summaryMessage } from './errors.js';
export { readYamlText, derefNode, nodePosition, nodeAtPath, describeNode, ALIAS_HOPS_MAX } from './document.js';
export {
  readInteger,
  readNumber,
  readBoolean,
  readString,
  readEnum,
  readList,
  readRecord,
  readDurationMs,
  parseDurationMs,
  formatDurationMs,
  isRecord,
  STRING_LENGTH_MAX_DEFAULT,
} from './readers.js';
export {
  joinPath,
  formatPath,
  truncateText,
  editDistance,
  suggestKey,
  didYouMean,
  unknownKeyDetail,
  describeValue,
  SUGGESTION_DISTANCE_MAX,
} from './words.js';

export type { YamlCheckErrorInit } from './errors.js';
export type { YamlPosition, YamlSyntaxProblem, YamlText } from './document.js';
export type { Read, Refusal, NumberBounds, StringRules } from './readers.js';
export type { PathSegment } from './words.js';
