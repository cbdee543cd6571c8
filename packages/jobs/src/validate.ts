// Runtime checks with the contract's own schemas (TypeBox's compiler), e.g. for the worker to check a job's
// data and spec when it arrives, so a payload from an older API fails readably.
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { FieldError } from './errors.ts';

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

export type CheckResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export function check<T extends TSchema>(schema: T, value: unknown): CheckResult<Static<T>> {
  let checker = compiled.get(schema);
  if (!checker) {
    checker = TypeCompiler.Compile(schema);
    compiled.set(schema, checker);
  }
  if (checker.Check(value)) return { ok: true, value: value as Static<T> };
  const errors = [...checker.Errors(value)].slice(0, 20).map((e) => ({ path: e.path || '/', message: e.message }));
  return { ok: false, errors };
}
