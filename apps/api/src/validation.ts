// Request validation. Bodies are checked strictly (no type coercion, unknown fields rejected, all errors
// reported); querystrings and path params coerce strings to the declared types. Ajv errors become field errors
// with JSON-pointer paths, with the noise of union (anyOf) branches folded away.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance, FastifySchema } from 'fastify';
import type { ProblemFieldError } from './schemas.ts';

type HttpPart = 'body' | 'querystring' | 'params' | 'headers';

// ajv-formats is CommonJS with `exports.default`; under ESM interop either shape may arrive.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

function newAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: coerce ? 'array' : false,
    useDefaults: true,
    removeAdditional: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

/** Installs the two Ajv instances as the app's validator compiler; shared schemas are added to both. */
export function installValidators(app: FastifyInstance): void {
  const strict = newAjv(false);
  const coercing = newAjv(true);
  let sharedAdded = false;
  app.setValidatorCompiler(({ schema, httpPart }) => {
    if (!sharedAdded) {
      for (const shared of Object.values(app.getSchemas()) as { $id: string }[]) {
        strict.addSchema(shared);
        coercing.addSchema(shared);
      }
      sharedAdded = true;
    }
    const ajv = httpPart === 'body' ? strict : coercing;
    return ajv.compile(schema as FastifySchema & object) as ValidateFunction;
  });
}

function child(path: string, name: string): string {
  return `${path}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

function describe(e: ErrorObject): { path: string; message: string } {
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return { path: child(e.instancePath, String(params.missingProperty)), message: 'is required' };
    case 'additionalProperties':
      return { path: child(e.instancePath, String(params.additionalProperty)), message: 'is not a known field' };
    case 'enum':
      return { path: e.instancePath || '/', message: `must be one of: ${(params.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'maxProperties':
      return { path: e.instancePath || '/', message: `must have at most ${String(params.limit)} field(s)` };
    case 'minProperties':
      return { path: e.instancePath || '/', message: `must have at least ${String(params.limit)} field(s)` };
    default:
      return { path: e.instancePath || '/', message: e.message ?? e.keyword };
  }
}

/**
 * Turns Ajv errors into field errors. For a failed anyOf, if some branch matched the value's type and failed
 * deeper down, that branch's errors are reported (the fewest, when several did); otherwise a single error says
 * which forms are accepted.
 */
export function fieldErrors(errors: readonly ErrorObject[], part: HttpPart): ProblemFieldError[] {
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const consumed = new Set<ErrorObject>();
  const out: ProblemFieldError[] = [];
  for (const union of anyOfs) {
    const base = `${union.schemaPath}/`;
    const branches = new Map<string, ErrorObject[]>();
    for (const e of errors) {
      if (e === union || !e.schemaPath.startsWith(base)) continue;
      consumed.add(e);
      const index = e.schemaPath.slice(base.length).split('/')[0]!;
      branches.set(index, [...(branches.get(index) ?? []), e]);
    }
    consumed.add(union);
    const deep = [...branches.values()].filter((list) => list.every((e) => e.keyword !== 'type' || e.instancePath !== union.instancePath));
    if (deep.length > 0) {
      const best = deep.reduce((a, b) => (b.length < a.length ? b : a));
      for (const e of best) out.push({ ...describe(e), in: part });
    } else {
      const types = [...branches.values()].flatMap((list) => list.filter((e) => e.keyword === 'type').map((e) => String((e.params as { type: unknown }).type)));
      out.push({ path: union.instancePath || '/', message: `must be one of: ${[...new Set(types)].join(', ') || 'the documented forms'}`, in: part });
    }
  }
  for (const e of errors) if (!consumed.has(e)) out.push({ ...describe(e), in: part });
  const seen = new Set<string>();
  return out.filter((e) => {
    const key = `${e.path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
