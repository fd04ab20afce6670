import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { GeoPoint } from '../routeguide/geo';
import { assertIntegerOptions } from '../util/integer-options';
import {
  NotesUnavailableError,
  type Note,
  type NotesStore,
  type NotesUnavailableKind,
} from '../routeguide/notes';
import type { Logger } from '../observability/logging';
import type { SpanAttributes, Tracing } from '../observability/tracing-types';
import {
  DEFAULT_NOTES_MAX_PER_LOCATION,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  DEFAULT_REDIS_KEY_PREFIX,
  DEFAULT_REDIS_NOTES_TTL_SECONDS,
} from './defaults';

/** Default of {@link RedisNotesStoreOptions.reconnectMaxDelayMs}. */
const DEFAULT_RECONNECT_MAX_DELAY_MS = 2000;

/** Options of {@link RedisNotesStore}. */
export interface RedisNotesStoreOptions {
  /** `redis://[user:password@]host:port/db`, or `rediss://…` for TLS. Required. */
  readonly url: string;
  /**
   * Redis Cluster mode: `url` is a seed node, the cluster's other nodes are discovered from it
   * (`CLUSTER SLOTS`) and each note's script runs on the master owning its key's slot. The
   * URL's credentials and TLS (`rediss://`) apply to every node; its database must be 0.
   * Default false (one Redis at `url`).
   */
  readonly cluster?: boolean;
  /** Prefix of every key; keys are `<prefix>notes:<latitude>,<longitude>`. Default `routeguide:`. */
  readonly keyPrefix?: string;
  /** Notes kept per location, the oldest evicted first. Default 100. */
  readonly maxPerLocation?: number;
  /** Seconds a location's notes live after its latest note (the key's expiry). Default 86400. */
  readonly ttlSeconds?: number;
  /**
   * Longest wait for one Redis command, and for a connection attempt, in ms; also how long a
   * connection may stay silent while a command waits before it is dropped. Default 2000.
   */
  readonly commandTimeoutMs?: number;
  /** Longest delay between reconnection attempts, in ms (backoff from 50 ms, doubling). Default 2000. */
  readonly reconnectMaxDelayMs?: number;
  /** Connection state changes are logged here, once each. */
  readonly logger: Logger;
  /** Each note's script runs in a child span of the call when tracing is on. Default: no spans. */
  readonly tracing?: Pick<Tracing, 'withSpan'>;
}

/**
 * Read-then-append of one note, atomic on one key (so it also runs on Redis Cluster).
 * KEYS[1] the location's list; ARGV: message, per-location cap, expiry in seconds.
 * Returns the notes there before this one, oldest first (at most the cap).
 */
const ADD_NOTE_LUA = `
local cap = tonumber(ARGV[2])
local earlier = redis.call('LRANGE', KEYS[1], -cap, -1)
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -cap, -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return earlier
`;

type ConnectionState = 'starting' | 'ready' | 'down' | 'closed';

/**
 * The ioredis client of a store: one connection to `url`, or a cluster client seeded by `url`.
 * Both fail fast in the same ways (see {@link RedisNotesStore}); only the construction differs.
 */
function createClient(
  url: string,
  cluster: boolean,
  timeoutMs: number,
  maxDelayMs: number,
): Redis | Cluster {
  const backoff = (attempt: number): number =>
    Math.min(50 * 2 ** Math.min(Math.max(attempt, 1) - 1, 16), maxDelayMs);
  const scripts = { routeguideAddNote: { lua: ADD_NOTE_LUA, numberOfKeys: 1 } };
  // Per connection (the one connection, or each cluster node's).
  const connection = {
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    connectTimeout: timeoutMs,
    connectionName: 'routeguide',
  } satisfies RedisOptions;
  if (!cluster) {
    return new Redis(url, {
      ...connection,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: backoff,
      scripts,
    });
  }
  const parsed = new URL(url);
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const seed = { host: parsed.hostname.replace(/^\[|\]$/g, ''), port };
  return new Cluster([seed], {
    lazyConnect: true,
    // Nothing waits for the cluster: while it is not ready a command fails at once.
    enableOfflineQueue: false,
    // The whole cluster lost (every node's connection closed): reconnect through the seed,
    // backing off. A lost node alone is found again through MOVED replies and slot refreshes.
    clusterRetryStrategy: backoff,
    // A command whose connection closed may have run: never re-send it (no note twice).
    retryDelayOnFailover: 0,
    // CLUSTERDOWN (slots without a master): fail now rather than retry for seconds. MOVED,
    // ASK and TRYAGAIN are still followed: the node refused the command without running it.
    retryDelayOnClusterDown: 0,
    slotsRefreshTimeout: timeoutMs,
    // Writes only: every script runs on the master owning its key.
    scaleReads: 'master',
    scripts,
    redisOptions: {
      ...connection,
      // The seed's credentials and TLS hold for every node discovered from it.
      ...(parsed.username !== '' ? { username: decodeURIComponent(parsed.username) } : {}),
      ...(parsed.password !== '' ? { password: decodeURIComponent(parsed.password) } : {}),
      ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  });
}

/** Resolves once a cluster node's connection is ready or has ended (never rejects). */
function untilSettled(node: Redis): Promise<void> {
  if (node.status === 'ready' || node.status === 'end') return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      node.off('ready', done);
      node.off('end', done);
      resolve();
    };
    node.once('ready', done);
    node.once('end', done);
  });
}

/** `redis://user:secret@host` → `redis://user:***@host`, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable REDIS_URL>';
  }
}

/** OpenTelemetry database attributes for spans of a store at `url` (host, port, db index). */
export function redisSpanAttributes(url: string): SpanAttributes {
  try {
    const parsed = new URL(url);
    return {
      'db.system.name': 'redis',
      'db.operation.name': 'EVALSHA',
      'db.namespace': parsed.pathname.replace(/^\//, '') || '0',
      'server.address': parsed.hostname.replace(/^\[|\]$/g, ''),
      'server.port': parsed.port === '' ? 6379 : Number(parsed.port),
    };
  } catch {
    return { 'db.system.name': 'redis', 'db.operation.name': 'EVALSHA' };
  }
}

/** How ioredis failed a command, for the error counter and the status. */
function classify(error: unknown): NotesUnavailableKind {
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : '';
  if (message.includes('enableOfflineQueue') || message.startsWith('CLUSTERDOWN')) {
    return 'unreachable';
  }
  if (message.includes('Command timed out')) return 'timeout';
  if (name === 'MaxRetriesPerRequestError' || message.includes('Connection is closed')) {
    return 'disconnected';
  }
  return 'error';
}

/**
 * RouteChat notes in Redis, shared by every replica pointing at the same Redis.
 *
 * One list per location, key `<prefix>notes:<lat>,<lng>`, holding the messages oldest first.
 * Each note is one Lua script on that key (read the earlier notes, append, trim to the cap,
 * refresh the key's expiry), so concurrent writers through any replicas are serialised by
 * Redis: nothing is lost, duplicated or reordered.
 *
 * Failure behaviour (ioredis options, chosen so that no call ever waits on a dead Redis):
 * - no offline queue: while disconnected, a command fails at once (`unreachable`);
 * - commands in flight when the connection drops fail at once (`maxRetriesPerRequest: 0`)
 *   and are never re-sent (`autoResendUnfulfilledCommands: false`): a script whose reply was
 *   lost may have run, and re-sending it would store the note twice;
 * - a command without a reply within `commandTimeoutMs` fails (`timeout`), and a connection
 *   silent that long while a command waits is dropped (`socketTimeout`) and re-established;
 * - reconnection never stops, backing off from 50 ms to `reconnectMaxDelayMs`.
 * Every failure rejects with {@link NotesUnavailableError}; the process never crashes on a
 * Redis error (the client's `error` events are handled).
 *
 * With `cluster: true` the same holds on Redis Cluster (every operation touches one key, so no
 * hash tags are needed): the options above apply to each node's connection; the cluster client
 * has no offline queue either, does not re-send a command whose connection closed
 * (`retryDelayOnFailover: 0`) and fails at once on `CLUSTERDOWN` (`unreachable`); when every
 * node is lost it reconnects through the seed with the same backoff. A single master lost while
 * the others serve fails only the notes of its slots until the cluster fails over.
 */
export class RedisNotesStore implements NotesStore {
  readonly size = undefined;
  readonly keyPrefix: string;
  private readonly redis: Redis | Cluster;
  private readonly maxPerLocation: number;
  private readonly ttlSeconds: number;
  private readonly logger: Logger;
  private readonly target: string;
  private state: ConnectionState = 'starting';
  private readonly loggedReplyErrors = new Set<string>();
  private readonly tracing: Pick<Tracing, 'withSpan'> | undefined;
  /** Database semantic-convention attributes of every span (no credentials). */
  private readonly spanAttributes: SpanAttributes;

  constructor(options: RedisNotesStoreOptions) {
    this.keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
    this.maxPerLocation = options.maxPerLocation ?? DEFAULT_NOTES_MAX_PER_LOCATION;
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_REDIS_NOTES_TTL_SECONDS;
    this.logger = options.logger;
    this.target = redactRedisUrl(options.url);
    this.tracing = options.tracing;
    this.spanAttributes = redisSpanAttributes(options.url);
    assertIntegerOptions({ maxPerLocation: this.maxPerLocation, ttlSeconds: this.ttlSeconds }, 1);
    const timeoutMs = options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
    const maxDelayMs = options.reconnectMaxDelayMs ?? DEFAULT_RECONNECT_MAX_DELAY_MS;
    this.redis = createClient(options.url, options.cluster ?? false, timeoutMs, maxDelayMs);
    const client = this.redis;
    if (client instanceof Cluster) {
      // The cluster client opens a node's connection on that node's first command and, without
      // an offline queue, fails the commands sent to it meanwhile. So once the cluster is ready
      // (not before: its ready check must not meet a node still connecting), open every
      // master's connection, and count the store connected when they are all ready.
      client.on('ready', () => {
        const masters = client.nodes('master');
        for (const node of masters) {
          if (node.status === 'wait') {
            node.connect().catch(() => {
              /* reported by the cluster ('node error'); the next MOVED opens a new one */
            });
          }
        }
        void Promise.all(masters.map(untilSettled)).then(() => {
          if (client.status === 'ready') this.transition('ready');
        });
      });
    } else {
      client.on('ready', () => this.transition('ready'));
    }
    this.redis.on('error', (error: Error) => this.transition('down', error));
    // Cluster mode: 'error' when no node answers CLUSTER SLOTS, 'close' when every node is lost.
    this.redis.on('close', () => {
      if (this.state === 'ready') this.transition('down');
    });
    // Start connecting now, without waiting: the server starts and serves everything else
    // whether or not Redis is there. A failed first attempt is retried by retryStrategy.
    this.redis.connect().catch(() => {
      /* reported through the 'error' event */
    });
  }

  /** Whether the client is connected and ready for commands. */
  get connected(): boolean {
    return this.state === 'ready';
  }

  /** The key of a location's list. */
  keyOf(location: GeoPoint): string {
    return `${this.keyPrefix}notes:${location.latitude},${location.longitude}`;
  }

  async add(note: Note): Promise<Note[]> {
    let messages: unknown;
    try {
      const run = () =>
        (
          this.redis as unknown as {
            routeguideAddNote(key: string, ...args: (string | number)[]): Promise<unknown>;
          }
        ).routeguideAddNote(
          this.keyOf(note.location),
          note.message,
          this.maxPerLocation,
          this.ttlSeconds,
        );
      messages = await (this.tracing === undefined
        ? run()
        : this.tracing.withSpan('EVALSHA', this.spanAttributes, run));
    } catch (error) {
      const kind = classify(error);
      if (kind === 'error') this.logReplyError(error);
      throw new NotesUnavailableError({ kind, cause: error });
    }
    // A reply proves the store reachable: count it connected now (a no-op when it is), before
    // the client's own 'ready' says so (in cluster mode that waits for every master's
    // connection), so the state, the gauge and the log never lag behind a stored note.
    this.transition('ready');
    if (!Array.isArray(messages)) {
      throw new NotesUnavailableError({
        kind: 'error',
        cause: new TypeError(`unexpected reply from the notes script: ${typeof messages}`),
      });
    }
    const location = { latitude: note.location.latitude, longitude: note.location.longitude };
    return messages.map((message) => ({ location, message: String(message) }));
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  /** Logs a state change once; repeated errors while down (every retry) are not logged. */
  private transition(next: 'ready' | 'down', error?: Error): void {
    if (this.state === 'closed' || this.state === next) return;
    const previous = this.state;
    this.state = next;
    if (next === 'ready') {
      this.logger.info({ redis: this.target }, 'notes store connected');
    } else {
      this.logger.warn(
        { redis: this.target, err: error, was: previous },
        previous === 'starting' ? 'notes store unreachable' : 'notes store connection lost',
      );
    }
  }

  /** Error replies (OOM, READONLY, …) are logged once per kind of reply, not per call. */
  private logReplyError(error: unknown): void {
    const code = (error instanceof Error ? error.message : String(error)).split(' ', 1)[0] ?? '';
    if (this.loggedReplyErrors.has(code) || this.loggedReplyErrors.size >= 32) return;
    this.loggedReplyErrors.add(code);
    this.logger.error({ redis: this.target, err: error }, 'notes store error reply');
  }
}
