// The run spec (testudo.yaml): parse, validate, expand into task templates.

export { SpecError, SpecValidationError, MAX_SPEC_ERRORS } from './errors.js';
export {
  parseSpecText,
  loadSpec,
  expandEnvReferences,
  defaultCacheKey,
  editDistance,
  suggestKey,
  SPEC_LIMITS,
  SPEC_DEFAULTS,
  MATRIX_LABEL_KEYS,
  DEFAULT_SPEC_FILE,
} from './parse.js';
export {
  expandSpec,
  expandSpecDetailed,
  splitIntoShards,
  matrixCells,
  cellRequirements,
  resolveFiles,
  ALWAYS_IGNORED,
} from './expand.js';

export type { SpecLocation, SpecErrorInit } from './errors.js';
export type {
  RunSpec,
  SuiteSpec,
  SetupSpec,
  MatrixAxis,
  ShardStrategy,
  ParsedSpec,
  ParseSpecOptions,
  LoadSpecOptions,
  SpecEnv,
} from './parse.js';
export type { ExpandOptions, ExpandedSpec, ResolvedFiles } from './expand.js';
