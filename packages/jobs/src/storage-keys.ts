// Object-storage keys shared by the API (serves files) and the worker (writes them).
import { isArtifactName } from './job-record.ts';
import { isDatasetId, isJobId } from './ids.ts';
import type { DatasetFormat } from './dataset.ts';

export const storageKeys = {
  /** Everything stored for a job (deleted with the job). */
  jobPrefix(jobId: string): string {
    if (!isJobId(jobId)) throw new TypeError(`invalid job id ${JSON.stringify(jobId)}`);
    return `jobs/${jobId}/`;
  },
  artifact(jobId: string, name: string): string {
    if (!isArtifactName(name)) throw new TypeError(`invalid artifact name ${JSON.stringify(name)}`);
    return `${storageKeys.jobPrefix(jobId)}artifacts/${name}`;
  },
  datasetFile(datasetId: string, format: DatasetFormat): string {
    if (!isDatasetId(datasetId)) throw new TypeError(`invalid dataset id ${JSON.stringify(datasetId)}`);
    return `datasets/${datasetId}/data.${format}`;
  },
};
