// A string enum as plain JSON Schema (`{type: 'string', enum: [...]}`) rather than TypeBox's anyOf of literals:
// shorter OpenAPI, one clear validation message. Registered with TypeBox so `check()` understands it.
import { Kind, Type, TypeRegistry, type SchemaOptions, type TUnsafe } from '@sinclair/typebox';

if (!TypeRegistry.Has('StringEnum')) {
  TypeRegistry.Set<{ enum: readonly string[] }>('StringEnum', (schema, value) => typeof value === 'string' && schema.enum.includes(value));
}

export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ ...options, [Kind]: 'StringEnum', type: 'string', enum: [...values] });
}
