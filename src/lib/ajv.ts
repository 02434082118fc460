// Two validators: bodies are checked strictly (no type coercion, unknown fields are errors, never
// silently dropped); query strings and path params are text, so they are coerced to their types.
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';

const common: Options = { allErrors: true, strict: false, removeAdditional: false, useDefaults: true };

export const bodyAjv = (addFormats as unknown as (a: Ajv) => Ajv)(new Ajv({ ...common, coerceTypes: false }));
export const paramsAjv = (addFormats as unknown as (a: Ajv) => Ajv)(new Ajv({ ...common, coerceTypes: 'array' }));
