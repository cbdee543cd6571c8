// /v1/datasets: upload a JSONL/CSV/TSV file (multipart), validated row by row by @hifi/data; the file goes to
// object storage, the record to Redis.
import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import multipart from '@fastify/multipart';
import { inferFormat, validateDataset } from '@hifi/data';
import {
  Dataset,
  DATASET_FORMATS,
  StringEnum,
  HifiError,
  isDatasetId,
  MAX_REPORTED_REJECTED_ROWS,
  newDatasetId,
  storageKeys,
  type Dataset as DatasetRecord,
  type DatasetFormat,
} from '@hifi/jobs';
import { COMMON_ERROR_RESPONSES, problemResponse, ref } from '../schemas.ts';

const CONTENT_TYPES: Record<DatasetFormat, string> = {
  jsonl: 'application/x-ndjson',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
};

const UploadQuery = Type.Object(
  { format: Type.Optional(StringEnum(DATASET_FORMATS, { description: 'Default: from the file name (.jsonl, .csv, .tsv).' })) },
  { additionalProperties: false },
);

export const datasetRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { hifi } = app;
  await app.register(multipart, {
    limits: { fileSize: hifi.config.maxUploadBytes, files: 1, fields: 10, parts: 11 },
    throwFileSizeLimit: true,
  });

  app.post(
    '/datasets',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Upload a dataset',
        description:
          'multipart/form-data with one file part (`file`): JSONL, CSV or TSV with the columns `text`, optional `text_pair`, and `label`. ' +
          'Invalid rows are skipped and listed with their line numbers; when too many rows are invalid (or fewer than two classes remain) the upload is rejected with 422 and the rows. Larger than HIFI_MAX_UPLOAD_BYTES → 413.',
        consumes: ['multipart/form-data'],
        querystring: UploadQuery,
        response: {
          201: ref(Dataset, 'Dataset', 'The stored dataset; skipped rows are listed in `rejected`.'),
          413: problemResponse('The file is larger than HIFI_MAX_UPLOAD_BYTES (`PAYLOAD_TOO_LARGE`).'),
          415: problemResponse('Not multipart, or the format cannot be told (`UNSUPPORTED_MEDIA`).'),
          422: problemResponse('The rows do not make a usable dataset (`INVALID_DATASET`); `errors` lists rejected lines.'),
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const part = await request.file();
      if (!part) throw new HifiError('VALIDATION_FAILED', 'the upload has no file part', { param: 'file' });
      const buffer = await part.toBuffer();
      const filename = part.filename || 'upload';
      let format: DatasetFormat;
      try {
        format = request.query.format ?? inferFormat(filename);
      } catch (err) {
        throw new HifiError('UNSUPPORTED_MEDIA', err instanceof Error ? err.message : String(err), { param: 'format' });
      }
      const summary = validateDataset(buffer, format, { maxBytes: hifi.config.maxUploadBytes, fileName: filename });
      const rejected = summary.rejected.slice(0, MAX_REPORTED_REJECTED_ROWS);
      if (!summary.ok) {
        throw new HifiError('INVALID_DATASET', summary.problem ?? `${filename} is not a valid dataset`, {
          param: 'file',
          errors: rejected.map((r) => ({ path: '/file', line: r.line, message: r.reason, in: 'file' as const })),
        });
      }
      const id = newDatasetId();
      const storageKey = storageKeys.datasetFile(id, format);
      await hifi.objects.put(storageKey, buffer, { contentType: CONTENT_TYPES[format] });
      const dataset: DatasetRecord = {
        id,
        tenant: request.tenant,
        filename: filename.slice(0, 255),
        format,
        size: buffer.length,
        sha256: createHash('sha256').update(buffer).digest('hex'),
        rows: summary.rows,
        columns: summary.columns,
        labels: summary.labels,
        task: summary.taskType,
        rejectedCount: summary.rejected.length,
        rejected,
        storageKey,
        createdAt: new Date().toISOString(),
      };
      await hifi.datasets.create(dataset);
      request.log.info({ datasetId: id, rows: dataset.rows, rejected: dataset.rejectedCount }, 'dataset stored');
      reply.header('location', `/v1/datasets/${id}`);
      return reply.code(201).send(dataset);
    },
  );

  app.get(
    '/datasets/:id',
    {
      schema: {
        tags: ['datasets'],
        summary: 'Get a dataset record',
        params: Type.Object({ id: Type.String({ maxLength: 64 }) }),
        response: { 200: ref(Dataset, 'Dataset', 'The dataset record.'), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { id } = request.params;
      const dataset = isDatasetId(id) ? await hifi.datasets.get(id, { tenant: request.tenant }) : null;
      if (!dataset) throw new HifiError('NOT_FOUND', `dataset ${id} does not exist`, { param: 'id' });
      return dataset;
    },
  );
};
