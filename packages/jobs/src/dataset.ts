// An uploaded dataset: the file lives in object storage, the record in Redis (DatasetStore).
import { Type, type Static } from '@sinclair/typebox';
import { DATASET_ID_PATTERN, TENANT_PATTERN } from './ids.ts';
import { StringEnum } from './string-enum.ts';

export const DATASET_FORMATS = ['jsonl', 'csv', 'tsv'] as const;
export const DatasetFormat = StringEnum(DATASET_FORMATS);
export type DatasetFormat = Static<typeof DatasetFormat>;

/** How many rejected rows a dataset record (and an INVALID_DATASET problem) lists. */
export const MAX_REPORTED_REJECTED_ROWS = 100;

export const RejectedRow = Type.Object(
  { line: Type.Integer({ minimum: 1, description: '1-based line in the uploaded file.' }), reason: Type.String() },
  { additionalProperties: false },
);
export type RejectedRow = Static<typeof RejectedRow>;

export const Dataset = Type.Object(
  {
    id: Type.String({ pattern: DATASET_ID_PATTERN }),
    tenant: Type.String({ pattern: TENANT_PATTERN }),
    filename: Type.String({ description: 'The uploaded file name (informational).' }),
    format: DatasetFormat,
    size: Type.Integer({ minimum: 0, description: 'Bytes.' }),
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    rows: Type.Integer({ minimum: 0, description: 'Valid examples.' }),
    columns: Type.Array(Type.String(), { description: 'Fields of each example (text, optional text_pair, label).' }),
    labels: Type.Array(Type.String(), { description: 'Distinct labels as strings; empty for regression.' }),
    task: StringEnum(['classification', 'regression']),
    rejectedCount: Type.Integer({ minimum: 0, description: 'Rows skipped as invalid.' }),
    rejected: Type.Array(RejectedRow, { maxItems: MAX_REPORTED_REJECTED_ROWS, description: 'The first skipped rows with their reasons.' }),
    storageKey: Type.String({ description: 'Object-storage key of the file.' }),
    createdAt: Type.String(),
  },
  { title: 'Dataset', additionalProperties: false },
);
export type Dataset = Static<typeof Dataset>;
