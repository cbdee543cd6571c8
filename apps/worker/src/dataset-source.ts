// Where a job's training data comes from: `glue:NAME` is read from GLUE_DIR by the trainer; an uploaded dataset
// (`{datasetId}`) is looked up in the DatasetStore (same tenant as the job) and its file downloaded from object
// storage into the job's work dir.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { findGlueTask, UnrecoverableJobError, type Dataset, type DatasetStore, type TaskRef } from '@hifi/jobs';
import { NotFoundError, type ObjectStore } from '@hifi/storage';

export type JobDataset =
  | { kind: 'glue'; task: string; glueDir: string }
  | { kind: 'custom'; file: string; record: Dataset };

export async function resolveJobDataset(
  task: TaskRef,
  ctx: { tenant: string; glueDir: string | null; datasets: DatasetStore; store: ObjectStore; workDir: string },
): Promise<JobDataset> {
  if (typeof task === 'string') {
    const info = findGlueTask(task.slice('glue:'.length));
    if (!info) throw new UnrecoverableJobError('UNKNOWN_TASK', `${task} is not a GLUE task`, 'task');
    if (ctx.glueDir === null) throw new UnrecoverableJobError('UNKNOWN_TASK', `${task}: this worker has no GLUE data (GLUE_DIR is not set)`, 'task');
    return { kind: 'glue', task: info.name, glueDir: ctx.glueDir };
  }
  const record = await ctx.datasets.get(task.datasetId, { tenant: ctx.tenant });
  if (!record) throw new UnrecoverableJobError('INVALID_DATASET', `dataset ${task.datasetId} does not exist`, 'task.datasetId');
  const dir = join(ctx.workDir, 'dataset');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `train.${record.format}`);
  try {
    await pipeline(await ctx.store.get(record.storageKey), createWriteStream(file));
  } catch (err) {
    if (err instanceof NotFoundError) throw new UnrecoverableJobError('INVALID_DATASET', `the file of dataset ${record.id} is missing from storage`, 'task.datasetId');
    throw err;
  }
  return { kind: 'custom', file, record };
}
