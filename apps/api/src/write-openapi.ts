// Regenerates openapi/openapi.json: `npm run openapi:write -w @hifi/api`.
import { writeFile } from 'node:fs/promises';
import { generateOpenApiDocument, OPENAPI_PATH } from './openapi-document.ts';

await writeFile(OPENAPI_PATH, await generateOpenApiDocument());
console.log(`wrote ${OPENAPI_PATH}`);
