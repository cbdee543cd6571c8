// The API documents the job defaults (packages/jobs) and the trainer applies its own (packages/trainer): they are
// one set of numbers, so a job submitted with defaults trains exactly like `hifi train` with defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BUDGET as JOB_BUDGET, HYPERPARAMETER_DEFAULTS } from '@hifi/jobs';
import { DEFAULT_BUDGET as HIFI_BUDGET } from '@hifi/hifi';
import { DEFAULT_HYPERPARAMETERS } from '@hifi/trainer';

test('job hyperparameter defaults equal the trainer defaults', () => {
  for (const [name, value] of Object.entries(HYPERPARAMETER_DEFAULTS)) {
    if (name === 'analysisSamples') continue; // the analysis sample size is the pipeline's, not a training hyperparameter
    assert.ok(name in DEFAULT_HYPERPARAMETERS, `trainer has no hyperparameter ${name}`);
    assert.equal((DEFAULT_HYPERPARAMETERS as unknown as Record<string, unknown>)[name], value, name);
  }
  assert.deepEqual({ ...JOB_BUDGET }, { ...HIFI_BUDGET });
});
