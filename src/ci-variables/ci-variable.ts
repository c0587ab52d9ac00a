/**
 * GitLab's CI/CD variables as the domain sees them, and the model rules GitLab validates them with
 * (Ci::HasVariable, Ci::Maskable, Ci::HidableVariable, HasEnvironmentScope, the uniqueness of a key per
 * owner and environment scope). Pure: no I/O. Errors are collected per field, as Rails collects them,
 * so one answer names every problem: `{"message": {"key": [...], "value": ["is invalid"]}}`.
 */
import { DomainError } from '../kernel/errors.js';
import { hasLoneSurrogate } from '../namespaces/validation.js';

export const VARIABLE_TYPES = ['env_var', 'file'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

/** Where a variable is defined: a project or a group (by id). */
export type VariableOwner = { readonly type: 'project'; readonly id: number } | { readonly type: 'group'; readonly id: number };

/** A variable without its value (the store keeps that sealed; the service opens it for answers). */
export interface CiVariable {
  readonly id: number;
  readonly owner: VariableOwner;
  readonly key: string;
  readonly variableType: VariableType;
  readonly protected: boolean;
  readonly masked: boolean;
  /** Hidden variables never show their value again, to anyone (GitLab 17.4's masked_and_hidden). */
  readonly hidden: boolean;
  /** Raw: `$VAR` references in the value are not expanded. */
  readonly raw: boolean;
  readonly environmentScope: string;
  readonly description: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The fields a variable is made of, as create/update give them (value in plain text). */
export interface VariableAttributes {
  readonly key: string;
  readonly value: string;
  readonly variableType: VariableType;
  readonly protected: boolean;
  readonly masked: boolean;
  readonly hidden: boolean;
  readonly raw: boolean;
  readonly environmentScope: string;
  readonly description: string | null;
}

/** What a create or update request may set; absent fields keep their value (or GitLab's default). */
export interface VariableInput {
  readonly key?: string;
  readonly value?: string;
  readonly variableType?: VariableType;
  readonly protected?: boolean;
  readonly masked?: boolean;
  /** Create only: makes the variable masked and hidden (GitLab's `masked_and_hidden`). */
  readonly maskedAndHidden?: boolean;
  readonly raw?: boolean;
  readonly environmentScope?: string;
  readonly description?: string | null;
}

const KEY_RE = /^[a-zA-Z0-9_]+$/;
// Gitlab::Regex.environment_scope_regex: letters, digits, '-', '_', '/', '$', '{', '}', '.', '*' and spaces.
const ENVIRONMENT_SCOPE_RE = /^[a-zA-Z0-9_/${}. *-]+$/;
/**
 * Ci::Maskable::REGEX: a masked value that is expanded must be one line of at least 8 characters from the
 * Base64 alphabet plus '@', ':', '.' and '~'. MASK_AND_RAW_REGEX: a raw one only needs 8 or more
 * non-whitespace characters. Ruby's \s is ASCII whitespace, so spelt out here (JS's \s is Unicode).
 */
const MASKED_RE = /^[a-zA-Z0-9_+=/@:.~-]{8,}$/u;
const MASKED_RAW_RE = /^[^ \t\r\n\f\v]{8,}$/u;
const MAX_KEY = 255;
const MAX_DESCRIPTION = 255;
const MAX_SCOPE = 255;

export const KEY_FORMAT_MESSAGE = "can contain only letters, digits and '_'.";

/** Rails' `key=`/`environment_scope=` writers strip surrounding whitespace before validating. */
export const normaliseKey = (key: string): string => key.trim();
export const normaliseScope = (scope: string): string => scope.trim();

/** A masked value GitLab would accept (raw values may hold any non-blank characters). */
export function isMaskableValue(value: string, raw: boolean): boolean {
  return (raw ? MASKED_RAW_RE : MASKED_RE).test(value);
}

type Errors = Record<string, string[]>;
const add = (errors: Errors, field: string, reason: string) => (errors[field] ??= []).push(reason);

/**
 * The model validations of one variable's attributes (not uniqueness: the store knows that). On an
 * update, `previous` is the variable as it was: GitLab refuses to change `masked` on a hidden variable.
 * Returns the field errors; empty when valid.
 */
export function validateVariable(next: VariableAttributes, previous: CiVariable | null): Errors {
  const errors: Errors = {};
  if (next.key.length === 0) add(errors, 'key', "can't be blank");
  if (next.key.length > MAX_KEY) add(errors, 'key', `is too long (maximum is ${MAX_KEY} characters)`);
  if (next.key.length > 0 && !KEY_RE.test(next.key)) add(errors, 'key', KEY_FORMAT_MESSAGE);
  // Half a surrogate pair is not text: sealing it as UTF-8 would silently change the value.
  if (hasLoneSurrogate(next.value)) add(errors, 'value', 'is not valid Unicode text');
  else if (next.masked && !isMaskableValue(next.value, next.raw)) add(errors, 'value', 'is invalid');
  if (previous === null && next.hidden && !next.masked) add(errors, 'masked', 'should be true when variable is hidden');
  if (previous !== null && previous.hidden && previous.masked !== next.masked) add(errors, 'base', 'Updating masked attribute is not allowed on updates for hidden variables.');
  if (next.environmentScope.length === 0) add(errors, 'environment_scope', "can't be blank");
  else if (!ENVIRONMENT_SCOPE_RE.test(next.environmentScope)) add(errors, 'environment_scope', "can contain only letters, digits, '-', '_', '/', '$', '{', '}', '.', '*' and spaces");
  if (next.environmentScope.length > MAX_SCOPE) add(errors, 'environment_scope', `is too long (maximum is ${MAX_SCOPE} characters)`);
  if (next.description !== null && next.description.length > MAX_DESCRIPTION) add(errors, 'description', `is too long (maximum is ${MAX_DESCRIPTION} characters)`);
  // Stored as text: PostgreSQL cannot keep a NUL, and a lone surrogate is not text.
  if (next.description !== null && (next.description.includes('\u0000') || hasLoneSurrogate(next.description))) add(errors, 'description', 'is not valid text');
  return errors;
}

/** GitLab's `render_validation_error!`: `{"message": {field: [reasons]}}` with every field's errors. */
export function invalidVariable(errors: Errors): DomainError {
  const [field, reasons] = Object.entries(errors)[0]!;
  return new DomainError('invalid', 'INVALID_VARIABLE', `${field} ${reasons[0]}`, errors);
}

/** The uniqueness error GitLab's model gives a taken key: `(KEY) has already been taken`. */
export const keyTaken = (key: string): DomainError => invalidVariable({ key: [`(${key}) has already been taken`] });

/** The attributes of a new variable: GitLab's defaults for what the request left out. */
export function attributesForCreate(input: VariableInput & { key: string; value: string }): VariableAttributes {
  const hidden = input.maskedAndHidden === true;
  return {
    key: normaliseKey(input.key),
    value: input.value,
    variableType: input.variableType ?? 'env_var',
    protected: input.protected ?? false,
    masked: hidden || (input.masked ?? false),
    hidden,
    raw: input.raw ?? false,
    environmentScope: normaliseScope(input.environmentScope ?? '*'),
    description: input.description ?? null,
  };
}

/** The attributes after an update: the request's fields over the current ones (the key never changes here). */
export function attributesForUpdate(current: CiVariable, currentValue: string, input: VariableInput): VariableAttributes {
  return {
    key: current.key,
    value: input.value ?? currentValue,
    variableType: input.variableType ?? current.variableType,
    protected: input.protected ?? current.protected,
    masked: input.masked ?? current.masked,
    hidden: current.hidden,
    raw: input.raw ?? current.raw,
    environmentScope: input.environmentScope === undefined ? current.environmentScope : normaliseScope(input.environmentScope),
    description: input.description === undefined ? current.description : input.description,
  };
}
