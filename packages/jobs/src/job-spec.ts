// What a client asks for: `JobSpecInput` is the request body of POST /v1/jobs (optional fields, documented
// defaults); `JobSpec` is the normalised form stored on the job record and read by the worker (every default
// filled in, so the worker never guesses). Each is a TypeBox schema and a static type with the same name.
import { Type, type Static } from '@sinclair/typebox';
import { DATASET_ID_PATTERN } from './ids.ts';
import { StringEnum } from './string-enum.ts';

/**
 * Every hyperparameter default, in one place; the schema's `default` keywords and `normaliseJobSpec` use these.
 * They equal the trainer's DEFAULT_HYPERPARAMETERS (chosen by a learning-rate sweep on bert-mini-hifi, see
 * packages/trainer/README.md); test/hyperparameter-defaults.test.ts fails if the two drift apart.
 */
export const HYPERPARAMETER_DEFAULTS = {
  /** Passes over the training set, used when `maxSteps` is not given. */
  epochs: 3,
  /** Examples per optimiser step. */
  batchSize: 32,
  /** Learning rate of trainable parameters that are neither attention heads nor the task head (full fine-tuning). */
  learningRate: 1e-3,
  /** Learning rate of the selected attention heads' slices (Q, K, V and, optionally, the output projection). */
  headLearningRate: 3e-3,
  /** Learning rate of the task head (pooler and classifier). */
  taskHeadLearningRate: 1e-3,
  /** Fraction of the total steps spent in linear warm-up, then linear decay to zero. */
  warmupRatio: 0.1,
  /** Decoupled weight decay (AdamW), applied only to tensors with 2 or more dimensions. */
  weightDecay: 0.01,
  /** Tokens per example, special tokens included; longer inputs are truncated. */
  maxLength: 128,
  /** Evaluate on the dev split every this many steps; 0 evaluates only at the end of each epoch. */
  evalInterval: 0,
  /** Stop after this many evaluations without improvement of the primary metric; 0 disables early stopping. */
  earlyStoppingPatience: 0,
  /** Examples fed to the head analysis (per-head statistics) before selection. */
  analysisSamples: 256,
  /** Whether a selected head also trains its slice of the attention output projection. */
  trainOutputProjection: true,
} as const;

export const DEFAULT_SEED = 42;
export const DEFAULT_BUDGET = { perLayer: 3 } as const;
export const DEFAULT_STRATEGY = 'hifi' as const;
export const DEFAULT_QUEUE = 'cpu' as const;

export const ModelSource = Type.String({
  minLength: 1,
  maxLength: 1024,
  description:
    'Where the base model comes from: `hf:org/name[@revision]` (Hugging Face hub), `s3://bucket/key` (a folder in ' +
    'object storage), a registered model id (a folder name in one of the server\'s HIFI_MODEL_DIRS), or an absolute ' +
    'local path (allowed only under HIFI_MODEL_DIRS).',
  examples: ['hf:google/bert_uncased_L-4_H-256_A-4@main', 'bert-mini-hifi'],
});
export type ModelSource = Static<typeof ModelSource>;

export const GlueTaskRef = Type.String({
  pattern: '^glue:[A-Za-z0-9-]{1,32}$',
  description: 'A GLUE task by name, e.g. `glue:SST-2` (case and hyphens are ignored: `glue:sst2`).',
  examples: ['glue:SST-2'],
});
export const DatasetTaskRef = Type.Object(
  { datasetId: Type.String({ pattern: DATASET_ID_PATTERN, description: 'An uploaded dataset (POST /v1/datasets).' }) },
  { additionalProperties: false },
);
export const TaskRef = Type.Union([GlueTaskRef, DatasetTaskRef], { description: 'What to fine-tune on.' });
export type TaskRef = Static<typeof TaskRef>;

type BudgetForm = { perLayer: number } | { total: number } | { fraction: number } | { maxTrainableParams: number };
/**
 * Exactly one of four forms. Written as one object with four optional fields and 1 ≤ properties ≤ 1 (rather than
 * an anyOf of four objects) so that a validation error names the field at fault; the static type is the union.
 */
export const Budget = Type.Unsafe<BudgetForm>(
  Type.Object(
    {
      perLayer: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024, description: 'Heads selected in every layer.' })),
      total: Type.Optional(Type.Integer({ minimum: 1, maximum: 65536, description: 'Heads selected across the model.' })),
      fraction: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'Fraction of all heads.' })),
      maxTrainableParams: Type.Optional(Type.Integer({ minimum: 1, description: 'Select heads until their trainable parameters would exceed this.' })),
    },
    {
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      title: 'Budget',
      description: `How many heads to fine-tune: exactly one of the four fields. Default ${JSON.stringify(DEFAULT_BUDGET)}.`,
    },
  ),
);
export type Budget = Static<typeof Budget>;

export const STRATEGIES = ['hifi', 'random', 'richness', 'correlation', 'all', 'full'] as const;
export const Strategy = StringEnum(STRATEGIES, {
    description:
      'Head selection: `hifi` (PageRank over the head graph, Gui & Xiao 2023), `random`, `richness` (information ' +
      'richness only), `correlation` (head correlation only), `all` (every head, no other encoder parameters), ' +
      '`full` (full fine-tuning baseline). Default `hifi`.',
  },
);
export type Strategy = Static<typeof Strategy>;

export const QUEUE_KINDS = ['cpu', 'gpu'] as const;
export const QueueKind = StringEnum(QUEUE_KINDS, { description: 'Which worker pool runs the job. Default `cpu`.' });
export type QueueKind = Static<typeof QueueKind>;

const d = HYPERPARAMETER_DEFAULTS;
export const HyperparametersInput = Type.Object(
  {
    epochs: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: d.epochs, description: `Epochs (default ${d.epochs} when maxSteps is not given).` })),
    maxSteps: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000_000, description: 'Stop after this many optimiser steps (whichever of epochs/maxSteps ends first).' })),
    batchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096, default: d.batchSize })),
    learningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: d.learningRate })),
    headLearningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: d.headLearningRate })),
    taskHeadLearningRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: d.taskHeadLearningRate })),
    warmupRatio: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: d.warmupRatio })),
    weightDecay: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: d.weightDecay })),
    maxLength: Type.Optional(Type.Integer({ minimum: 8, maximum: 4096, default: d.maxLength })),
    evalInterval: Type.Optional(Type.Integer({ minimum: 0, default: d.evalInterval })),
    earlyStoppingPatience: Type.Optional(Type.Integer({ minimum: 0, maximum: 1000, default: d.earlyStoppingPatience })),
    maxTrainExamples: Type.Optional(Type.Integer({ minimum: 1, description: 'Use at most this many training examples (default: all).' })),
    analysisSamples: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, default: d.analysisSamples })),
    trainOutputProjection: Type.Optional(Type.Boolean({ default: d.trainOutputProjection })),
  },
  { additionalProperties: false, description: 'Training hyperparameters; every field is optional and has a documented default.' },
);
export type HyperparametersInput = Static<typeof HyperparametersInput>;

export const Hyperparameters = Type.Object(
  {
    epochs: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    maxSteps: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    batchSize: Type.Integer({ minimum: 1 }),
    learningRate: Type.Number(),
    headLearningRate: Type.Number(),
    taskHeadLearningRate: Type.Number(),
    warmupRatio: Type.Number(),
    weightDecay: Type.Number(),
    maxLength: Type.Integer(),
    evalInterval: Type.Integer(),
    earlyStoppingPatience: Type.Integer(),
    maxTrainExamples: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    analysisSamples: Type.Integer(),
    trainOutputProjection: Type.Boolean(),
  },
  { additionalProperties: false, description: 'Hyperparameters with every default filled in.' },
);
export type Hyperparameters = Static<typeof Hyperparameters>;

export const Metadata = Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.String({ maxLength: 512 }), {
  description: 'Free-form string labels (at most 32); GET /v1/jobs filters on them with `metadata.KEY=VALUE`.',
  maxProperties: 32,
});
export type Metadata = Static<typeof Metadata>;

export const WebhookUrl = Type.String({
  // Any absolute URI passes the schema; the scheme (http or https only) and the address rules are the webhook
  // policy's (webhook-url-policy.ts), so that a refusal is a 422 naming the reason rather than a pattern error.
  pattern: '^[A-Za-z][A-Za-z0-9+.-]*:[^\\s]+$',
  maxLength: 2048,
  description:
    'An http(s) URL called with a signed JSON body when the job reaches a terminal state (succeeded, failed, ' +
    'cancelled). Unless the server allows it, the host must not be, or resolve to, a loopback, private, ' +
    'link-local, CGNAT or unique-local address: literal addresses and localhost names are refused at submission ' +
    '(422 WEBHOOK_URL_NOT_ALLOWED), host names again when the webhook is sent.',
});

export const JobSpecInput = Type.Object(
  {
    model: ModelSource,
    task: TaskRef,
    budget: Type.Optional(Budget),
    strategy: Type.Optional(Strategy),
    hyperparameters: Type.Optional(HyperparametersInput),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: DEFAULT_SEED })),
    metadata: Type.Optional(Metadata),
    webhookUrl: Type.Optional(WebhookUrl),
    queue: Type.Optional(QueueKind),
  },
  { title: 'JobSpecInput', additionalProperties: false, description: 'A fine-tuning job as submitted.' },
);
export type JobSpecInput = Static<typeof JobSpecInput>;

export const JobSpec = Type.Object(
  {
    model: ModelSource,
    task: TaskRef,
    budget: Budget,
    strategy: Strategy,
    hyperparameters: Hyperparameters,
    seed: Type.Integer(),
    metadata: Metadata,
    webhookUrl: Type.Union([WebhookUrl, Type.Null()]),
    queue: QueueKind,
  },
  { title: 'JobSpec', additionalProperties: false, description: 'A fine-tuning job with every default filled in.' },
);
export type JobSpec = Static<typeof JobSpec>;

/** Fills every default in. The input is assumed to have passed `JobSpecInput` validation. */
export function normaliseJobSpec(input: JobSpecInput): JobSpec {
  const h = input.hyperparameters ?? {};
  const epochs = h.epochs ?? (h.maxSteps === undefined ? d.epochs : null);
  return {
    model: input.model,
    task: typeof input.task === 'string' ? input.task : { datasetId: input.task.datasetId },
    budget: input.budget ?? { ...DEFAULT_BUDGET },
    strategy: input.strategy ?? DEFAULT_STRATEGY,
    hyperparameters: {
      epochs,
      maxSteps: h.maxSteps ?? null,
      batchSize: h.batchSize ?? d.batchSize,
      learningRate: h.learningRate ?? d.learningRate,
      headLearningRate: h.headLearningRate ?? d.headLearningRate,
      taskHeadLearningRate: h.taskHeadLearningRate ?? d.taskHeadLearningRate,
      warmupRatio: h.warmupRatio ?? d.warmupRatio,
      weightDecay: h.weightDecay ?? d.weightDecay,
      maxLength: h.maxLength ?? d.maxLength,
      evalInterval: h.evalInterval ?? d.evalInterval,
      earlyStoppingPatience: h.earlyStoppingPatience ?? d.earlyStoppingPatience,
      maxTrainExamples: h.maxTrainExamples ?? null,
      analysisSamples: h.analysisSamples ?? d.analysisSamples,
      trainOutputProjection: h.trainOutputProjection ?? d.trainOutputProjection,
    },
    seed: input.seed ?? DEFAULT_SEED,
    metadata: { ...(input.metadata ?? {}) },
    webhookUrl: input.webhookUrl ?? null,
    queue: input.queue ?? DEFAULT_QUEUE,
  };
}
