// The checks a job spec needs beyond its schema: the model source (syntax; local paths only under
// HIFI_MODEL_DIRS; registered ids must exist there), the task (a known GLUE task with data, or a dataset of the
// same tenant), the webhook URL (the SSRF policy of @hifi/jobs: http(s) only; no literal loopback, private,
// link-local, CGNAT or unique-local address nor localhost name unless HIFI_WEBHOOK_ALLOW_PRIVATE; host names are
// checked again after DNS resolution when the worker sends the webhook). Returns the spec in canonical form
// (e.g. `glue:sst2` → `glue:SST-2`).
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { checkWebhookUrl, findGlueTask, GLUE_TASKS, HifiError, normaliseJobSpec, parseModelSource, type DatasetStore, type JobSpec, type JobSpecInput } from '@hifi/jobs';
import type { ApiConfig } from './config.ts';

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function checkModel(model: string, config: ApiConfig): Promise<void> {
  const parsed = parseModelSource(model);
  if (!parsed.ok) {
    throw new HifiError('VALIDATION_FAILED', `model ${JSON.stringify(model)}: ${parsed.reason}`, {
      param: 'model',
      errors: [{ path: '/model', message: parsed.reason }],
    });
  }
  const source = parsed.source;
  if (source.kind === 'local') {
    if (config.modelDirs.length === 0) throw new HifiError('MODEL_NOT_ALLOWED', 'local model paths are not allowed on this server (HIFI_MODEL_DIRS is not set)', { param: 'model' });
    if (!config.modelDirs.some((d) => isInside(d, source.path))) {
      throw new HifiError('MODEL_NOT_ALLOWED', `${source.path} is not under an allowed model directory`, { param: 'model' });
    }
    let real: string;
    try {
      real = await realpath(source.path);
    } catch {
      throw new HifiError('UNKNOWN_MODEL', `no model at ${source.path}`, { param: 'model' });
    }
    // A symlink inside an allowed directory must not lead outside all of them.
    const realDirs = await Promise.all(config.modelDirs.map((d) => realpath(d).catch(() => d)));
    if (!realDirs.some((d) => isInside(d, real))) throw new HifiError('MODEL_NOT_ALLOWED', `${source.path} resolves outside the allowed model directories`, { param: 'model' });
  } else if (source.kind === 'registered') {
    for (const dir of config.modelDirs) if (await isDirectory(join(dir, source.id))) return;
    throw new HifiError('UNKNOWN_MODEL', `no registered model ${JSON.stringify(source.id)}${config.modelDirs.length === 0 ? ' (HIFI_MODEL_DIRS is not set)' : ''}`, { param: 'model' });
  }
}

function checkWebhook(url: string, config: ApiConfig): void {
  const checked = checkWebhookUrl(url, { allowPrivate: config.webhookAllowPrivate });
  if (checked.ok) return;
  const code = checked.problem === 'invalid' ? 'VALIDATION_FAILED' : 'WEBHOOK_URL_NOT_ALLOWED';
  throw new HifiError(code, `webhookUrl ${JSON.stringify(url)}: ${checked.reason}`, {
    param: 'webhookUrl',
    errors: [{ path: '/webhookUrl', message: checked.reason }],
  });
}

export async function checkJobSpec(input: JobSpecInput, ctx: { tenant: string; config: ApiConfig; datasets: DatasetStore }): Promise<JobSpec> {
  await checkModel(input.model, ctx.config);
  const spec = normaliseJobSpec(input);
  if (typeof spec.task === 'string') {
    const name = spec.task.slice('glue:'.length);
    const info = findGlueTask(name);
    if (!info) {
      throw new HifiError('UNKNOWN_TASK', `${spec.task} is not a GLUE task; known: ${GLUE_TASKS.map((t) => t.name).join(', ')}`, { param: 'task' });
    }
    if (ctx.config.glueDir !== null && !(await isDirectory(join(ctx.config.glueDir, info.name)))) {
      throw new HifiError('UNKNOWN_TASK', `GLUE task ${info.name} has no data on this server`, { param: 'task' });
    }
    spec.task = `glue:${info.name}`;
  } else {
    const dataset = await ctx.datasets.get(spec.task.datasetId, { tenant: ctx.tenant });
    if (!dataset) throw new HifiError('INVALID_DATASET', `dataset ${spec.task.datasetId} does not exist`, { param: 'task.datasetId' });
  }
  if (spec.webhookUrl !== null) checkWebhook(spec.webhookUrl, ctx.config);
  return spec;
}
