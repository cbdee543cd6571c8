// An uploaded dataset: the file lives in object storage, the record in Redis (DatasetStore).
import { Type, type Static } from '@sinclair/typebox';
import { DATASET_ID_PATTERN, TENANT_PATTERN } from './ids.ts';

export const DATASET_FORMATS = ['jsonl', 'csv', 'tsv'] as const;
export const DatasetFormat = Type.Union(DATASET_FORMATS.map((f) => Type.Literal(f)));
export type DatasetFormat = Static<typeof DatasetFormat>;

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
    task: Type.Union([Type.Literal('classification'), Type.Literal('regression')]),
    storageKey: Type.String({ description: 'Object-storage key of the file.' }),
    createdAt: Type.String(),
  },
  { $id: 'Dataset', additionalProperties: false },
);
export type Dataset = Static<typeof Dataset>;
