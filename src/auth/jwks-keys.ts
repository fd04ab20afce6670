import { readFile, stat } from 'node:fs/promises';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

/** Default time between JWKS fetches (or key file checks). */
export const DEFAULT_JWKS_REFRESH_MS = 600_000;
/** Default shortest time between fetches caused by tokens naming an unknown `kid`. */
export const DEFAULT_JWKS_MIN_REFRESH_MS = 30_000;
/** Default age after which keys that could not be refreshed are dropped (calls get UNAVAILABLE). */
export const DEFAULT_JWKS_MAX_STALE_MS = 86_400_000;
/** Default bound of one JWKS fetch (connect, response and body). */
export const DEFAULT_JWKS_FETCH_TIMEOUT_MS = 5_000;
/** A JWKS document larger than this is refused (a key set is a few KiB). */
export const MAX_JWKS_BYTES = 1024 * 1024;

/** Options for {@link JwksKeys}; exactly one of `url` and `file`. */
export interface JwksKeysOptions {
  /** An `https://…/jwks.json` endpoint (`AUTH_JWKS_URL`). */
  readonly url?: string;
  /** A local JWKS file (`AUTH_JWKS_FILE`), re-read when its modification time changes. */
  readonly file?: string;
  /** Time between refreshes. Default {@link DEFAULT_JWKS_REFRESH_MS}. */
  readonly refreshMs?: number;
  /**
   * Shortest time between two loads, whatever caused them: an unknown `kid` triggers at most one
   * per interval, and a failed load is retried after it. Default {@link DEFAULT_JWKS_MIN_REFRESH_MS}.
   */
  readonly minRefreshMs?: number;
  /** Keys last loaded longer ago than this are dropped. Default {@link DEFAULT_JWKS_MAX_STALE_MS}. */
  readonly maxStaleMs?: number;
  /** Bound of one fetch. Default {@link DEFAULT_JWKS_FETCH_TIMEOUT_MS}. */
  readonly fetchTimeoutMs?: number;
  /** Called after each load that changed the keys. Default: nothing. */
  readonly onLoaded?: (keyCount: number) => void;
  /** Called when a load fails (cached keys stay in use). Default: nothing. */
  readonly onError?: (error: Error) => void;
  /** The clock (tests). Default: `Date.now`. */
  readonly now?: () => number;
}

/** The current key set and when it was loaded. */
interface LoadedKeys {
  readonly resolve: JWTVerifyGetKey;
  readonly json: string;
  readonly count: number;
  readonly loadedAt: number;
}

/**
 * The verification keys of an identity provider: loaded at `start()`, refreshed every
 * `refreshMs`, and early (at most once per `minRefreshMs`) when a token names a key the set does
 * not hold. A failed load keeps the cached keys until they are `maxStaleMs` old. Loads never
 * overlap; every load is bounded by `fetchTimeoutMs`.
 */
export class JwksKeys {
  private keys: LoadedKeys | undefined;
  private loading: Promise<boolean> | undefined;
  private lastLoadStartedAt = Number.NEGATIVE_INFINITY;
  private fileStamp = '';
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly refreshMs: number;
  private readonly minRefreshMs: number;
  private readonly maxStaleMs: number;
  private readonly fetchTimeoutMs: number;
  private readonly now: () => number;
  /** Loads so far (fetches or file reads), successful or not. */
  loads = 0;

  constructor(private readonly options: JwksKeysOptions) {
    if ((options.url === undefined) === (options.file === undefined)) {
      throw new Error('JwksKeys needs exactly one of url and file');
    }
    this.refreshMs = options.refreshMs ?? DEFAULT_JWKS_REFRESH_MS;
    this.minRefreshMs = options.minRefreshMs ?? DEFAULT_JWKS_MIN_REFRESH_MS;
    this.maxStaleMs = options.maxStaleMs ?? DEFAULT_JWKS_MAX_STALE_MS;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? DEFAULT_JWKS_FETCH_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  /** The first load; resolves (never rejects) once it succeeded or failed, then refreshes on a timer. */
  async start(): Promise<boolean> {
    const loaded = await this.load();
    this.schedule(loaded ? this.refreshMs : this.retryMs());
    return loaded;
  }

  /** Whether keys are loaded and not older than `maxStaleMs`. */
  get usable(): boolean {
    return this.current() !== undefined;
  }

  /** Whether a key set has ever loaded. */
  get everLoaded(): boolean {
    return this.keys !== undefined;
  }

  /** The key resolver for `jwtVerify`, or undefined when no usable keys are loaded. */
  resolver(): JWTVerifyGetKey | undefined {
    return this.current()?.resolve;
  }

  /**
   * Reloads early because a token named an unknown key; true when keys changed. Rate-limited:
   * joins a load in progress, and otherwise loads only if the last one started at least
   * `minRefreshMs` ago, so no number of unknown `kid`s amplifies into more loads.
   */
  refreshForUnknownKey(): Promise<boolean> {
    if (this.loading) return this.loading;
    if (this.now() - this.lastLoadStartedAt < this.minRefreshMs) return Promise.resolve(false);
    return this.load();
  }

  /** Stops the refresh timer. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private current(): LoadedKeys | undefined {
    const keys = this.keys;
    if (keys === undefined || this.now() - keys.loadedAt > this.maxStaleMs) return undefined;
    return keys;
  }

  private retryMs(): number {
    return Math.min(this.refreshMs, this.minRefreshMs);
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.load().then((loaded) => this.schedule(loaded ? this.refreshMs : this.retryMs()));
    }, delayMs);
    this.timer.unref();
  }

  /** One load at a time; true when the key set changed. */
  private load(): Promise<boolean> {
    this.loading ??= this.loadOnce().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async loadOnce(): Promise<boolean> {
    this.lastLoadStartedAt = this.now();
    this.loads++;
    try {
      const json = await this.read();
      if (json === undefined) {
        // The file did not change: the keys are as fresh as the file.
        if (this.keys) this.keys = { ...this.keys, loadedAt: this.now() };
        return false;
      }
      return this.install(json);
    } catch (error) {
      this.options.onError?.(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }

  /** Replaces the key set with the document's keys; true when they differ from the current ones. */
  private install(json: string): boolean {
    const changed = json !== this.keys?.json;
    if (!changed && this.keys) {
      this.keys = { ...this.keys, loadedAt: this.now() };
      return false;
    }
    const document = parseKeySet(json);
    this.keys = {
      resolve: createLocalJWKSet(document),
      json,
      count: document.keys.length,
      loadedAt: this.now(),
    };
    this.options.onLoaded?.(document.keys.length);
    return true;
  }

  /** The document's text; undefined when the key file is unchanged since the last read. */
  private async read(): Promise<string | undefined> {
    const { url, file } = this.options;
    if (file !== undefined) {
      const stats = await stat(file);
      const stamp = `${stats.mtimeMs}:${stats.size}:${stats.ino}`;
      if (stamp === this.fileStamp && this.keys) return undefined;
      if (stats.size > MAX_JWKS_BYTES)
        throw new Error(`JWKS file is larger than ${MAX_JWKS_BYTES} bytes`);
      const text = await readFile(file, 'utf8');
      this.fileStamp = stamp;
      return text;
    }
    return fetchKeySet(url!, this.fetchTimeoutMs);
  }
}

/** GETs a JWKS document within `timeoutMs`; throws on a non-2xx status or an oversized body. */
async function fetchKeySet(url: string, timeoutMs: number): Promise<string> {
  const response = await fetch(url, {
    signal: AbortSignal.timeout(timeoutMs),
    headers: { accept: 'application/jwk-set+json, application/json' },
    redirect: 'error',
  });
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`JWKS fetch answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_JWKS_BYTES) {
    await response.body?.cancel();
    throw new Error(`JWKS document is larger than ${MAX_JWKS_BYTES} bytes`);
  }
  const text = await response.text();
  if (text.length > MAX_JWKS_BYTES)
    throw new Error(`JWKS document is larger than ${MAX_JWKS_BYTES} bytes`);
  return text;
}

/** A `{"keys": [...]}` document; throws naming what is wrong. */
function parseKeySet(json: string): JSONWebKeySet {
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch {
    throw new Error('JWKS document is not JSON');
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.some((key) => key === null || typeof key !== 'object')) {
    throw new Error('JWKS document has no "keys" array of objects');
  }
  // Private members of a key never belong in a JWKS; refusing them keeps secrets out of memory.
  if (keys.some((key: Record<string, unknown>) => 'd' in key || 'k' in key)) {
    throw new Error(
      'JWKS document holds private or symmetric key material; publish public keys only',
    );
  }
  return { keys } as JSONWebKeySet;
}
