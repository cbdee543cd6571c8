// The OpenAPI 3.1 document, generated from the route schemas without connecting to Redis or storage. The
// checked-in copy is openapi/openapi.json at the repository root (`npm run openapi:write -w @hifi/api`); a test
// fails when it differs from what the code generates.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from './app.ts';
import { loadConfig } from './config.ts';

export const OPENAPI_PATH = fileURLToPath(new URL('../../../openapi/openapi.json', import.meta.url));

export async function generateOpenApiDocument(): Promise<string> {
  // Defaults only: the document must not depend on the environment it is generated in.
  const config = loadConfig({ HIFI_DATA_DIR: join(tmpdir(), 'hifi-openapi-unused') });
  const app = await buildApp({ config, logger: false, processMetrics: false });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
  }
}
