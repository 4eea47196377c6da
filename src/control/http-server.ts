/**
 * A small JSON-over-HTTP server on a Unix socket with a route table (method + path → handler).
 * Handlers return `{ status, body }`; errors are rendered once here as `{ "error": message }`
 * (4xx for the caller's mistakes, 5xx for ours). Bodies are capped in size.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errAsync, ResultAsync } from 'neverthrow';
import { unlinkSync } from 'node:fs';
import { claimUnixPath } from '../transports/unix-path.js';
import { describeError, vnetError, type VnetError } from '../errors.js';
import { MAX_UNIX_PATH } from '../transports/unix-listener.js';

/** A handler's answer. */
export interface RouteResult {
  status: number;
  body?: unknown;
  /** Plain text instead of JSON. */
  text?: string;
  /**
   * A long-lived answer: newline-delimited JSON written as things happen. `start` gets a writer
   * and returns the function that stops the feed when the client goes away.
   */
  stream?: (write: (line: unknown) => void) => () => void;
}

/** What a handler receives. */
export interface RouteRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Parsed JSON body (undefined when there is none). */
  body: unknown;
}

/** A route handler. */
export type RouteHandler = (req: RouteRequest) => RouteResult | Promise<RouteResult>;

/** Route table: `"GET /stats"` → handler. */
export type Routes = Map<string, RouteHandler>;

/** Largest request body accepted. */
const MAX_BODY = 64 * 1024;

/** The route whose `*` segments match `path`'s segments one for one. */
function wildcard(routes: Routes, method: string, path: string): RouteHandler | undefined {
  const segs = path.split('/');
  for (const [key, h] of routes) {
    if (!key.startsWith(`${method} `) || !key.includes('*')) continue;
    const pat = key.slice(method.length + 1).split('/');
    if (pat.length === segs.length && pat.every((p, i) => p === '*' || p === segs[i])) return h;
  }
  return undefined;
}

/** A running control server. */
export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

function send(res: ServerResponse, r: RouteResult): void {
  if (r.stream !== undefined) {
    res.writeHead(r.status, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    const stop = r.stream((line) => res.write(`${JSON.stringify(line)}\n`));
    res.once('close', stop);
    return;
  }
  if (r.text !== undefined) {
    res.writeHead(r.status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(r.text);
    return;
  }
  const body = r.body === undefined ? '' : JSON.stringify(r.body);
  res.writeHead(r.status, { 'content-type': 'application/json' });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) throw new HttpError(413, `request body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  if (n === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new HttpError(400, `body is not valid JSON: ${describeError(e)}`);
  }
}

/** An error with an HTTP status, thrown only inside this module's request path. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Serves `routes` on a Unix socket at `path` (a stale socket file is replaced). */
export function serveHttp(path: string, routes: Routes): ResultAsync<ControlServer, VnetError<'listen-failed'>> {
  if (Buffer.byteLength(path) > MAX_UNIX_PATH) return errAsync(vnetError('listen-failed', `socket path is longer than ${MAX_UNIX_PATH} bytes: ${path}`));
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const url = new URL(req.url ?? '/', 'http://unix');
      const path = url.pathname.replace(/\/+$/, '') || '/';
      const method = req.method ?? 'GET';
      // Exact paths first, then one wildcard segment (`/nics/*/condition`, `/host-interface/*`).
      const h = routes.get(`${method} ${path}`) ?? wildcard(routes, method, path);
      if (h === undefined) {
        const known = [...routes.keys()].filter((k) => k.endsWith(` ${url.pathname}`));
        throw new HttpError(known.length > 0 ? 405 : 404, known.length > 0 ? `method not allowed; try ${known.join(', ')}` : `no such path: ${url.pathname}`);
      }
      const body = await readBody(req);
      send(res, await h({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, body }));
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      send(res, { status, body: { error: describeError(e) } });
    }
  };
  return ResultAsync.fromPromise(
    claimUnixPath(path).then(
      (problem) =>
        new Promise<Server>((resolve, reject) => {
          if (problem === 'not-a-socket') return reject(new Error(`${path} exists and is not a socket`));
          if (problem === 'in-use') return reject(new Error(`another process serves on ${path}`));
          const srv = createServer((req, res) => void handle(req, res));
          srv.once('error', reject);
          srv.listen(path, () => {
            srv.off('error', reject);
            resolve(srv);
          });
        }),
    ),
    (e) => vnetError('listen-failed', `cannot serve the control API on ${path}: ${describeError(e)}`, { cause: e }),
  ).map((srv) => ({
    path,
    close: async () => {
      srv.close();
      srv.closeAllConnections();
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    },
  }));
}
