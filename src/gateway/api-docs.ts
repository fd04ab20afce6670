import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  SWAGGER_UI_ASSETS,
  SWAGGER_UI_CSP,
  SWAGGER_UI_INITIALIZER,
  swaggerUiIndexHtml,
} from './swagger-ui-page';

/** Options for {@link ApiDocs}. */
export interface ApiDocsOptions {
  /** The OpenAPI document (`buildOpenApiDocument`), served as it is at construction. */
  readonly document: object;
  /** Directory of the swagger-ui-dist package. Default: the installed one. */
  readonly swaggerUiDir?: string;
  /** Title of the Swagger UI page. Default: the document's `info.title`, else `API documentation`. */
  readonly title?: string;
}

/** Where the document is served. */
export const OPENAPI_PATH = '/openapi.json';
/** Where Swagger UI is served (the page itself at `/docs/`). */
export const DOCS_PATH = '/docs';

/** One file ApiDocs serves: bytes, their gzip form when worth it, and the validator. */
interface Served {
  readonly body: Buffer;
  readonly gzipped: Buffer | undefined;
  readonly etag: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** swagger-ui-dist's files change only with its version (which their URLs carry). */
const ASSET_CACHE_CONTROL = 'public, max-age=86400';
/** The document and our page files: revalidated every time (cheap with the ETag). */
const REVALIDATE = 'no-cache';

/**
 * Serves the OpenAPI document at `GET /openapi.json` and Swagger UI at `/docs/`, from the local
 * swagger-ui-dist package (the page works offline). Only the listed files are served; any other
 * path under `/docs/` is 404, so no request can reach another file. {@link handle} answers GET
 * and HEAD (405 for other methods on its paths) and returns false for every other path, so the
 * gateway's router goes on. Throws at construction when swagger-ui-dist lacks a file it needs.
 */
export class ApiDocs {
  private readonly files = new Map<string, Served>();
  private readonly pending = new Map<string, Promise<Served>>();
  private readonly swaggerUiDir: string;

  constructor(options: ApiDocsOptions) {
    this.swaggerUiDir = options.swaggerUiDir ?? defaultSwaggerUiDir();
    for (const name of Object.keys(SWAGGER_UI_ASSETS)) {
      if (!existsSync(path.join(this.swaggerUiDir, name))) {
        throw new Error(
          `ApiDocs: swagger-ui-dist lacks ${name} (in ${this.swaggerUiDir}); reinstall the npm dependencies`,
        );
      }
    }
    const version = swaggerUiVersion(this.swaggerUiDir);
    const title = options.title ?? documentTitle(options.document) ?? 'API documentation';
    this.files.set(
      OPENAPI_PATH,
      served(Buffer.from(JSON.stringify(options.document)), {
        'content-type': 'application/json',
        'cache-control': REVALIDATE,
      }),
    );
    this.files.set(
      `${DOCS_PATH}/`,
      served(Buffer.from(swaggerUiIndexHtml(title, version)), {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': REVALIDATE,
        'content-security-policy': SWAGGER_UI_CSP,
        'x-frame-options': 'DENY',
      }),
    );
    this.files.set(
      `${DOCS_PATH}/swagger-initializer.js`,
      served(Buffer.from(SWAGGER_UI_INITIALIZER), {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': REVALIDATE,
      }),
    );
  }

  /** Answers the request when its path is one of ours; false (nothing written) otherwise. */
  handle(request: IncomingMessage, response: ServerResponse): boolean {
    const pathname = (request.url ?? '/').split('?', 1)[0]!;
    if (
      pathname !== OPENAPI_PATH &&
      pathname !== DOCS_PATH &&
      !pathname.startsWith(`${DOCS_PATH}/`)
    ) {
      return false;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendStatus(response, 405, 12, `${request.method ?? ''} not allowed on ${pathname}`, {
        allow: 'GET, HEAD',
      });
      return true;
    }
    if (pathname === DOCS_PATH) {
      // Relative, so a proxy's path prefix survives: /prefix/docs → /prefix/docs/.
      response.writeHead(301, { location: 'docs/', 'content-length': '0' }).end();
      return true;
    }
    const file = this.file(pathname === `${DOCS_PATH}/index.html` ? `${DOCS_PATH}/` : pathname);
    if (file === undefined) {
      sendStatus(response, 404, 5, `no such file: ${pathname}`);
      return true;
    }
    file.then(
      (served) => send(request, response, served),
      () => sendStatus(response, 500, 13, `cannot read ${pathname}`),
    );
    return true;
  }

  /** The file a path names, read (once) from swagger-ui-dist when it is one of its assets. */
  private file(pathname: string): Promise<Served> | undefined {
    const ready = this.files.get(pathname);
    if (ready !== undefined) return Promise.resolve(ready);
    const name = pathname.slice(DOCS_PATH.length + 1);
    const contentType = Object.hasOwn(SWAGGER_UI_ASSETS, name)
      ? SWAGGER_UI_ASSETS[name]
      : undefined;
    if (contentType === undefined) return undefined;
    let loading = this.pending.get(pathname);
    if (loading === undefined) {
      loading = readFile(path.join(this.swaggerUiDir, name)).then((body) => {
        const file = served(body, {
          'content-type': contentType,
          'cache-control': ASSET_CACHE_CONTROL,
        });
        this.files.set(pathname, file);
        return file;
      });
      loading.catch(() => this.pending.delete(pathname)); // a later request tries again
      this.pending.set(pathname, loading);
    }
    return loading;
  }
}

/** The installed swagger-ui-dist's directory; throws a clear error when it is not installed. */
function defaultSwaggerUiDir(): string {
  try {
    return path.dirname(require.resolve('swagger-ui-dist/package.json'));
  } catch (error) {
    throw new Error('ApiDocs: the npm package swagger-ui-dist is not installed', { cause: error });
  }
}

function swaggerUiVersion(dir: string): string {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return typeof manifest.version === 'string' ? manifest.version : 'unknown';
}

function documentTitle(document: object): string | undefined {
  const title = (document as { info?: { title?: unknown } }).info?.title;
  return typeof title === 'string' ? title : undefined;
}

function served(body: Buffer, headers: Record<string, string>): Served {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  const compressible = !headers['content-type']!.startsWith('image/') && body.length > 1024;
  return { body, gzipped: compressible ? gzipSync(body) : undefined, etag, headers };
}

function send(request: IncomingMessage, response: ServerResponse, file: Served): void {
  const headers: Record<string, string> = {
    ...file.headers,
    etag: file.etag,
    'x-content-type-options': 'nosniff',
  };
  if (file.gzipped !== undefined) headers.vary = 'Accept-Encoding';
  if (matchesEtag(request.headers['if-none-match'], file.etag)) {
    response.writeHead(304, headers).end();
    return;
  }
  const gzip = file.gzipped !== undefined && acceptsGzip(request.headers['accept-encoding']);
  const body = gzip ? file.gzipped! : file.body;
  if (gzip) headers['content-encoding'] = 'gzip';
  headers['content-length'] = String(body.length);
  response.writeHead(200, headers);
  response.end(request.method === 'HEAD' ? undefined : body);
}

function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === etag || tag === '*');
}

function acceptsGzip(acceptEncoding: string | undefined): boolean {
  return (acceptEncoding ?? '')
    .split(',')
    .some((coding) => /^\s*gzip\s*(;\s*q=(?!0(\.0*)?\s*$)[0-9.]+\s*)?$/i.test(coding));
}

/** A `google.rpc.Status` JSON error, as every gateway error is. */
function sendStatus(
  response: ServerResponse,
  httpStatus: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ code, message, details: [] });
  response
    .writeHead(httpStatus, {
      ...headers,
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'x-content-type-options': 'nosniff',
    })
    .end(body);
}
