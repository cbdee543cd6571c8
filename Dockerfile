# CPU image for the API and the CPU worker.
# The engine picks its tfjs backend at run time (tfjs-node-gpu → tfjs-node → wasm → cpu). With internet access at
# build time, WITH_TFJS_NODE=1 (the default) adds the native CPU backend; if its download fails the image still
# works on the wasm backend.
FROM node:20-bookworm-slim
ARG WITH_TFJS_NODE=1
ENV NODE_ENV=production \
    HIFI_DATA_DIR=/data \
    PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/engine/package.json packages/engine/
COPY packages/hifi/package.json packages/hifi/
COPY packages/trainer/package.json packages/trainer/
COPY packages/data/package.json packages/data/
COPY packages/jobs/package.json packages/jobs/
COPY packages/storage/package.json packages/storage/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
# Sources run through tsx (no build step), which is a devDependency: install everything.
RUN npm ci --include=dev --no-audit --no-fund \
 && if [ "$WITH_TFJS_NODE" = "1" ]; then \
      npm install --no-save --no-audit --no-fund @tensorflow/tfjs-node@4.22.0 \
      || echo "tfjs-node could not be installed; the wasm backend will be used"; \
    fi
COPY tsconfig.json ./
COPY packages ./packages
COPY apps ./apps
COPY openapi ./openapi
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
CMD ["node", "--import", "tsx", "apps/api/src/server.ts"]
