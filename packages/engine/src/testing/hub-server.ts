// A local stand-in for the Hugging Face hub, for tests: serves `${root}/{name}/{file}` at
// `/{org}/{name}/resolve/{revision}/{file}` on 127.0.0.1 (port 0), with the behaviour the downloader must cope with:
// Range requests (206 / 416), bearer-token auth (401), 404s, a redirect of large files to a "CDN" path, and
// connections cut after a number of bytes. Every request is logged for assertions.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface HubServerOptions {
  /** Directory whose subdirectories are the repos (the org part of the URL is not used to find files). */
  root: string;
  /** When set, /resolve/ requests need `Authorization: Bearer <token>` (401 otherwise). */
  token?: string;
  /** Files with these suffixes are answered with a 302 to /cdn/{name}/{file}, as the hub does for LFS files. */
  redirectSuffixes?: string[];
  /** Ignore Range headers and always answer 200 with the whole file. */
  ignoreRange?: boolean;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  range?: string;
  authorization?: string;
  status: number;
}

export interface HubServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  requests: RequestLogEntry[];
  /** The next `times` responses for `file` send only `afterBytes` bytes of the body, then the socket is destroyed. */
  cutConnection(file: string, afterBytes: number, times?: number): void;
  close(): Promise<void>;
}

const SAFE = /^[A-Za-z0-9_.-]+$/;

export async function startHubServer(opts: HubServerOptions): Promise<HubServer> {
  const requests: RequestLogEntry[] = [];
  const cuts = new Map<string, { afterBytes: number; times: number }>();

  async function serveFile(req: IncomingMessage, res: ServerResponse, name: string, file: string, entry: RequestLogEntry): Promise<void> {
    const path = join(opts.root, name, file);
    const info = await stat(path).catch(() => undefined);
    if (!SAFE.test(name) || !SAFE.test(file) || !info?.isFile()) {
      entry.status = 404;
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Entry not found' }));
      return;
    }
    const size = info.size;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range && !opts.ignoreRange) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m || Number(m[1]) >= size) {
        entry.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      status = 206;
    }
    const headers: Record<string, string | number> = { 'content-length': end - start + 1, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    if (status === 206) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    entry.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    const cut = cuts.get(file);
    if (cut && cut.times > 0) {
      cut.times--;
      // Send a prefix of the body, then drop the connection mid-transfer.
      const stream = createReadStream(path, { start, end: Math.min(end, start + cut.afterBytes - 1) });
      stream.on('data', (chunk) => res.write(chunk));
      stream.on('end', () => { setTimeout(() => res.socket?.destroy(), 20); });
      return;
    }
    createReadStream(path, { start, end }).pipe(res);
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const entry: RequestLogEntry = { method: req.method ?? 'GET', path: url.pathname, status: 0 };
    if (req.headers.range) entry.range = req.headers.range;
    if (req.headers.authorization) entry.authorization = req.headers.authorization;
    requests.push(entry);
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    const done = (status: number, body = '') => { entry.status = status; res.writeHead(status).end(body); };
    // /cdn/{name}/{file}: no auth, as signed CDN URLs are.
    if (parts[0] === 'cdn' && parts.length === 3) {
      serveFile(req, res, parts[1], parts[2], entry).catch(() => done(500));
      return;
    }
    // /{org}/{name}/resolve/{revision...}/{file}
    if (parts.length >= 5 && parts[2] === 'resolve') {
      if (opts.token && req.headers.authorization !== `Bearer ${opts.token}`) return done(401, 'Unauthorized');
      const name = parts[1];
      const file = parts[parts.length - 1];
      if (opts.redirectSuffixes?.some((s) => file.endsWith(s))) {
        entry.status = 302;
        res.writeHead(302, { location: `/cdn/${encodeURIComponent(name)}/${encodeURIComponent(file)}` }).end();
        return;
      }
      serveFile(req, res, name, file, entry).catch(() => done(500));
      return;
    }
    done(404, 'Repository not found');
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutConnection(file, afterBytes, times = 1) { cuts.set(file, { afterBytes, times }); },
    close: () => new Promise<void>((resolveClose, reject) => {
      server.closeAllConnections();
      server.close((err) => (err ? reject(err) : resolveClose()));
    }),
  };
}
