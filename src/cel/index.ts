// The CEL module shared by the embedded API server (admission, CRD rules) and `kto validate`.
export { CelEnv, type CelProgram, type CelTypeName, type CompileResult, type ObjectTypes } from './env.js';
export { CelCostError, CelRuntimeError } from './errors.js';
export { toCel, fromCel } from './values.js';
export { compileSchemaRules, RULE_REASONS, type CompiledSchemaRules, type RuleCompileIssue, type RuleReason, type RuleSchema, type RuleViolation, type ValidationRule } from './rules.js';
export { ownProp } from './schema-types.js';
