import { hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { ServerTlsFiles } from './grpc/tls';
import type { JwtSettings } from './auth/create-authenticator';
import {
  DEFAULT_JWKS_FETCH_TIMEOUT_MS,
  DEFAULT_JWKS_MAX_STALE_MS,
  DEFAULT_JWKS_MIN_REFRESH_MS,
  DEFAULT_JWKS_REFRESH_MS,
} from './auth/jwks-keys';
import {
  ASYMMETRIC_ALGORITHMS,
  DEFAULT_ALGORITHMS,
  DEFAULT_CLOCK_SKEW_SECONDS,
  DEFAULT_MAX_TOKEN_BYTES,
} from './auth/jwt-authenticator';
import { DEFAULT_SCOPES, parseScopePolicy, type ScopePolicy } from './auth/scopes';
import type { LogLevel } from './observability/logging';
import { BUNDLED_FEATURES_FILE } from './routeguide/bundled-features';
import { DEFAULT_REST_MAX_BODY_BYTES } from './gateway/defaults';
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_IDLE_TIMEOUT_MS } from './net/connection-guard';
import {
  DEFAULT_MAX_STREAMING_CALLS,
  DEFAULT_MAX_STREAMING_CALLS_PER_CONNECTION,
  DEFAULT_RETRY_PUSHBACK_MS,
} from './grpc/admission-defaults';
import {
  DEFAULT_MEMORY_HARD_PERCENT,
  DEFAULT_MEMORY_SOFT_PERCENT,
} from './observability/memory-budget';
import {
  DEFAULT_NOTES_MAX_PER_LOCATION,
  DEFAULT_NOTES_MAX_TOTAL,
  DEFAULT_NOTES_MAX_TOTAL_CHARS,
  DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
  DEFAULT_REDIS_KEY_PREFIX,
  DEFAULT_REDIS_NOTES_TTL_SECONDS,
} from './stores/defaults';

const LOG_LEVELS = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const satisfies readonly LogLevel[];

function integer(min: number, max: number) {
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
}

const port = integer(0, 65535);
const positive = integer(1, Number.MAX_SAFE_INTEGER);
const nonNegative = integer(0, Number.MAX_SAFE_INTEGER);
const boolean = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' }))
  .transform((value) => value === 'true' || value === '1');
const file = z.string().trim().min(1).optional();

/** A comma-separated list of asymmetric JWS algorithms (HS* and `none` are never listed). */
const algorithms = z
  .string()
  .transform((text) =>
    text
      .split(',')
      .map((alg) => alg.trim())
      .filter((alg) => alg !== ''),
  )
  .refine((list) => list.length > 0, 'must list at least one algorithm')
  .refine(
    (list) => list.every((alg) => ASYMMETRIC_ALGORITHMS.includes(alg)),
    `must list only ${ASYMMETRIC_ALGORITHMS.join(', ')} (HS256 needs AUTH_HS256_SECRET; none is never allowed)`,
  );

/** `AUTH_SCOPES`: `Method=scope scope,…` onto the default policy. */
const scopes = z.string().transform((text, context): ScopePolicy => {
  try {
    return parseScopePolicy(text);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/**
 * Every environment variable the server reads, with its default. The README's configuration
 * table mirrors this schema.
 */
const schema = z
  .object({
    HOST: z.string().trim().min(1).default('0.0.0.0'),
    PORT: port.default(50051),
    FEATURES_FILE: z.string().trim().min(1).default(BUNDLED_FEATURES_FILE),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    REPLICA_ID: z.string().trim().min(1).optional(),
    NOTES_MAX_PER_LOCATION: positive.default(DEFAULT_NOTES_MAX_PER_LOCATION),
    NOTES_MAX_TOTAL: positive.default(DEFAULT_NOTES_MAX_TOTAL),
    NOTES_MAX_TOTAL_CHARS: positive.default(DEFAULT_NOTES_MAX_TOTAL_CHARS),
    REDIS_URL: z
      .string()
      .trim()
      .regex(/^rediss?:\/\/[^/?#]+/, 'must be a redis:// or rediss:// URL')
      .refine((value) => URL.canParse(value), 'must be a redis:// or rediss:// URL')
      .optional(),
    REDIS_CLUSTER: boolean.default(false),
    REDIS_KEY_PREFIX: z.string().default(DEFAULT_REDIS_KEY_PREFIX),
    REDIS_NOTES_TTL_SECONDS: positive.default(DEFAULT_REDIS_NOTES_TTL_SECONDS),
    REDIS_COMMAND_TIMEOUT_MS: positive.default(DEFAULT_REDIS_COMMAND_TIMEOUT_MS),
    MAX_CONNECTION_AGE_MS: positive.default(30_000),
    MAX_CONNECTION_AGE_GRACE_MS: positive.optional(),
    KEEPALIVE_TIME_MS: positive.default(60_000),
    KEEPALIVE_TIMEOUT_MS: positive.default(20_000),
    MAX_RECEIVE_MESSAGE_BYTES: integer(1, 2 ** 31 - 1).default(1024 * 1024),
    MAX_CONCURRENT_STREAMS: integer(1, 2 ** 31 - 1).default(128),
    MAX_CONNECTIONS: positive.default(1000),
    MAX_CONNECTIONS_PER_ADDRESS: positive.optional(),
    CONNECTION_HANDSHAKE_TIMEOUT_MS: positive.default(DEFAULT_HANDSHAKE_TIMEOUT_MS),
    CONNECTION_IDLE_TIMEOUT_MS: positive.default(DEFAULT_IDLE_TIMEOUT_MS),
    MAX_STREAMING_CALLS: positive.default(DEFAULT_MAX_STREAMING_CALLS),
    MAX_STREAMING_CALLS_PER_CONNECTION: positive.default(
      DEFAULT_MAX_STREAMING_CALLS_PER_CONNECTION,
    ),
    RETRY_PUSHBACK_MS: nonNegative.default(DEFAULT_RETRY_PUSHBACK_MS),
    MEMORY_LIMIT_BYTES: nonNegative.optional(),
    MEMORY_SOFT_PERCENT: integer(1, 100).default(DEFAULT_MEMORY_SOFT_PERCENT),
    MEMORY_HARD_PERCENT: integer(1, 100).default(DEFAULT_MEMORY_HARD_PERCENT),
    METRICS: boolean.default(true),
    METRICS_PORT: port.default(9464),
    REFLECTION: boolean.default(true),
    ORCA: boolean.default(true),
    ORCA_MIN_REPORT_INTERVAL_MS: integer(100, 3_600_000).default(1000),
    SHUTDOWN_DELAY_MS: nonNegative.default(0),
    SHUTDOWN_GRACE_MS: nonNegative.default(10_000),
    HEALTH_PORT: port.optional(),
    TLS_CERT_FILE: file,
    TLS_KEY_FILE: file,
    TLS_CLIENT_CA_FILE: file,
    TLS_RELOAD_INTERVAL_MS: positive.default(5000),
    AUTH_TOKEN: z.string().min(1).optional(),
    AUTH_JWKS_URL: z
      .string()
      .trim()
      .refine(
        (value) => /^https?:\/\//.test(value) && URL.canParse(value),
        'must be an http(s) URL',
      )
      .optional(),
    AUTH_JWKS_FILE: file,
    AUTH_HS256_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
    AUTH_ISSUER: z.string().trim().min(1).optional(),
    AUTH_AUDIENCE: z.string().trim().min(1).optional(),
    AUTH_ALGORITHMS: algorithms.default([...DEFAULT_ALGORITHMS]),
    AUTH_CLOCK_SKEW_SECONDS: integer(0, 3600).default(DEFAULT_CLOCK_SKEW_SECONDS),
    AUTH_SCOPES: scopes.default(DEFAULT_SCOPES),
    AUTH_MAX_TOKEN_BYTES: integer(256, 65536).default(DEFAULT_MAX_TOKEN_BYTES),
    AUTH_JWKS_REFRESH_MS: integer(100, 86_400_000).default(DEFAULT_JWKS_REFRESH_MS),
    AUTH_JWKS_MIN_REFRESH_MS: integer(10, 3_600_000).default(DEFAULT_JWKS_MIN_REFRESH_MS),
    AUTH_JWKS_MAX_STALE_MS: positive.default(DEFAULT_JWKS_MAX_STALE_MS),
    AUTH_JWKS_FETCH_TIMEOUT_MS: integer(10, 60_000).default(DEFAULT_JWKS_FETCH_TIMEOUT_MS),
    AUTH_REFLECTION: boolean.default(false),
    GATEWAY_TARGET: z.string().trim().min(1).optional(),
    GATEWAY_TARGET_TLS: boolean.optional(),
    GATEWAY_TARGET_CA_FILE: file,
    GATEWAY_TARGET_CERT_FILE: file,
    GATEWAY_TARGET_KEY_FILE: file,
    GATEWAY_TARGET_SERVER_NAME: z.string().trim().min(1).optional(),
    REST: boolean.default(true),
    REST_PORT: port.default(8080),
    REST_MAX_CONNECTIONS: positive.default(1000),
    REST_MAX_CONNECTIONS_PER_ADDRESS: positive.optional(),
    REST_MAX_BODY_BYTES: integer(1, 2 ** 31 - 1).default(DEFAULT_REST_MAX_BODY_BYTES),
    REST_CORS_ORIGINS: z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((origin) => origin.trim())
          .filter((origin) => origin !== ''),
      )
      .pipe(
        z.array(
          z
            .string()
            .regex(/^(\*|https?:\/\/[^/\s]+)$/, 'each origin must be * or scheme://host[:port]'),
        ),
      )
      .optional(),
  })
  .refine((e) => !e.REDIS_CLUSTER || e.REDIS_URL !== undefined, {
    path: ['REDIS_CLUSTER'],
    message: 'cluster mode needs REDIS_URL (a seed node of the cluster)',
  })
  .refine((e) => !e.REDIS_CLUSTER || /^\/?0?$/.test(new URL(e.REDIS_URL ?? 'redis://x').pathname), {
    path: ['REDIS_URL'],
    message: 'Redis Cluster has only database 0: end the URL with /0 or nothing',
  })
  .refine((e) => e.MEMORY_SOFT_PERCENT <= e.MEMORY_HARD_PERCENT, {
    path: ['MEMORY_SOFT_PERCENT'],
    message: 'must not exceed MEMORY_HARD_PERCENT',
  })
  .refine((e) => (e.TLS_CERT_FILE === undefined) === (e.TLS_KEY_FILE === undefined), {
    path: ['TLS_KEY_FILE'],
    message: 'TLS_CERT_FILE and TLS_KEY_FILE must be set together',
  })
  .refine((e) => e.TLS_CLIENT_CA_FILE === undefined || e.TLS_CERT_FILE !== undefined, {
    path: ['TLS_CLIENT_CA_FILE'],
    message: 'client certificates (mTLS) need TLS_CERT_FILE and TLS_KEY_FILE',
  })
  .refine(
    (e) => (e.GATEWAY_TARGET_CERT_FILE === undefined) === (e.GATEWAY_TARGET_KEY_FILE === undefined),
    {
      path: ['GATEWAY_TARGET_KEY_FILE'],
      message: 'GATEWAY_TARGET_CERT_FILE and GATEWAY_TARGET_KEY_FILE must be set together',
    },
  )
  .refine((e) => e.GATEWAY_TARGET_TLS !== false || !gatewayTlsMaterial(e), {
    path: ['GATEWAY_TARGET_TLS'],
    message:
      'is false but GATEWAY_TARGET_CA_FILE, GATEWAY_TARGET_CERT_FILE, GATEWAY_TARGET_KEY_FILE or GATEWAY_TARGET_SERVER_NAME is set (they need TLS)',
  })
  .refine((e) => e.AUTH_JWKS_URL === undefined || e.AUTH_JWKS_FILE === undefined, {
    path: ['AUTH_JWKS_FILE'],
    message: 'set AUTH_JWKS_URL or AUTH_JWKS_FILE, not both',
  })
  .refine((e) => !jwtConfigured(e) || e.AUTH_ISSUER !== undefined, {
    path: ['AUTH_ISSUER'],
    message:
      'JWT verification (AUTH_JWKS_URL, AUTH_JWKS_FILE or AUTH_HS256_SECRET) needs AUTH_ISSUER',
  })
  .refine((e) => !jwtConfigured(e) || e.AUTH_AUDIENCE !== undefined, {
    path: ['AUTH_AUDIENCE'],
    message:
      'JWT verification (AUTH_JWKS_URL, AUTH_JWKS_FILE or AUTH_HS256_SECRET) needs AUTH_AUDIENCE',
  })
  .refine((e) => e.AUTH_JWKS_MIN_REFRESH_MS <= e.AUTH_JWKS_REFRESH_MS, {
    path: ['AUTH_JWKS_MIN_REFRESH_MS'],
    message: 'must not exceed AUTH_JWKS_REFRESH_MS',
  });

/** Whether any TLS setting of the standalone gateway's target is given (each implies TLS). */
function gatewayTlsMaterial(e: {
  GATEWAY_TARGET_CA_FILE?: string | undefined;
  GATEWAY_TARGET_CERT_FILE?: string | undefined;
  GATEWAY_TARGET_KEY_FILE?: string | undefined;
  GATEWAY_TARGET_SERVER_NAME?: string | undefined;
}): boolean {
  return (
    e.GATEWAY_TARGET_CA_FILE !== undefined ||
    e.GATEWAY_TARGET_CERT_FILE !== undefined ||
    e.GATEWAY_TARGET_KEY_FILE !== undefined ||
    e.GATEWAY_TARGET_SERVER_NAME !== undefined
  );
}

/** Whether any JWT key source is configured. */
function jwtConfigured(e: {
  AUTH_JWKS_URL?: string | undefined;
  AUTH_JWKS_FILE?: string | undefined;
  AUTH_HS256_SECRET?: string | undefined;
}): boolean {
  return (
    e.AUTH_JWKS_URL !== undefined ||
    e.AUTH_JWKS_FILE !== undefined ||
    e.AUTH_HS256_SECRET !== undefined
  );
}

/** The validated, immutable server configuration. */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly featuresFile: string;
  readonly logLevel: LogLevel;
  /** Identity sent to clients in `x-routeguide-replica`; defaults to the hostname. */
  readonly replicaId: string;
  readonly notes: {
    readonly maxPerLocation: number;
    readonly maxTotal: number;
    readonly maxTotalChars: number;
  };
  /**
   * RouteChat notes in Redis, shared by every replica, when `REDIS_URL` is set; otherwise
   * they live in this process (`notes` caps apply).
   */
  readonly redis?: {
    readonly url: string;
    /** `url` is a seed node of a Redis Cluster (`REDIS_CLUSTER`). */
    readonly cluster: boolean;
    readonly keyPrefix: string;
    readonly ttlSeconds: number;
    readonly commandTimeoutMs: number;
  };
  /** Connection management passed to grpc-js as server options. */
  readonly connections: {
    /** Connections are closed (GOAWAY) after this age so round-robin clients rebalance. */
    readonly maxAgeMs: number;
    /**
     * Time in-flight calls get after max age before the connection is closed hard. Undefined
     * (the default, as in grpc-go): no limit — in-flight calls and streams finish on the old
     * connection while new calls go to a new one.
     */
    readonly maxAgeGraceMs?: number;
    readonly keepaliveTimeMs: number;
    readonly keepaliveTimeoutMs: number;
    /** Larger incoming messages are refused with RESOURCE_EXHAUSTED. */
    readonly maxReceiveMessageBytes: number;
    readonly maxConcurrentStreams: number;
    /** Open connections on the gRPC port beyond which new ones are closed at accept. */
    readonly maxConnections: number;
    /** Open connections from one source address (IPv6: a /64) on the gRPC port; default half. */
    readonly maxConnectionsPerAddress: number;
    /** TLS + HTTP/2 preface and SETTINGS (every port) must finish this soon after accept. */
    readonly handshakeTimeoutMs: number;
    /** An HTTP/2 connection with no open stream this long gets a GOAWAY (every port). */
    readonly idleTimeoutMs: number;
  };
  /** Overload protection of streaming calls (src/grpc/admission.ts). */
  readonly admission: {
    /** Streaming calls in progress per process; more are refused UNAVAILABLE. */
    readonly maxCalls: number;
    /** Streaming calls in progress per connection; more are refused RESOURCE_EXHAUSTED. */
    readonly maxCallsPerConnection: number;
    /** `grpc-retry-pushback-ms` of refusals. */
    readonly pushbackMs: number;
    /**
     * The process's memory budget in bytes; undefined: the cgroup's memory limit, if any; 0: none.
     */
    readonly memoryLimitBytes?: number;
    readonly memorySoftPercent: number;
    readonly memoryHardPercent: number;
  };
  /** Prometheus metrics; `port` 0 picks a free port (logged). */
  readonly metrics: { readonly enabled: boolean; readonly port: number };
  /** Serve grpc.reflection v1 and v1alpha. */
  readonly reflection: boolean;
  /**
   * ORCA load reports (xds.service.orca.v3.OpenRcaService) for weighted round robin clients;
   * `minReportIntervalMs` is the shortest report interval a client may ask for.
   */
  readonly orca: { readonly enabled: boolean; readonly minReportIntervalMs: number };
  readonly shutdown: {
    /** Time between reporting NOT_SERVING and refusing new calls, so load balancers notice. */
    readonly delayMs: number;
    /** Time in-flight calls get to finish before they are cancelled. */
    readonly graceMs: number;
  };
  /**
   * A second, plaintext port serving only grpc.health.v1 (for probes when the main port speaks
   * TLS); unset: none. 0 picks a free port (logged).
   */
  readonly healthPort?: number;
  /** TLS on the gRPC port when set. */
  readonly tls?: ServerTlsFiles;
  /** When set, RouteGuide calls need `authorization: Bearer <token>`. */
  readonly authToken?: string;
  /**
   * JWT access tokens verified against the identity provider's keys (`AUTH_JWKS_URL` or
   * `AUTH_JWKS_FILE`, or `AUTH_HS256_SECRET`); with `authToken` too, either credential passes.
   */
  readonly jwt?: JwtSettings;
  /** Reflection needs a credential too (`AUTH_REFLECTION`; open by default). */
  readonly authReflection: boolean;
  /**
   * The standalone gateway's (`dist/gateway-main.js`) gRPC target, e.g. `dns:///routeguide:50051`;
   * the server ignores it.
   */
  readonly gatewayTarget?: string;
  /**
   * TLS from the standalone gateway to its target, when `GATEWAY_TARGET_TLS=true` or any
   * `GATEWAY_TARGET_*_FILE` / `GATEWAY_TARGET_SERVER_NAME` is set; absent: plaintext. The files
   * are read when the gateway starts.
   */
  readonly gatewayTargetTls?: {
    /** PEM roots that verify the target; absent: Node's bundled public roots. */
    readonly caFile?: string;
    /** PEM client certificate chain (mutual TLS), always with `keyFile`. */
    readonly certFile?: string;
    /** PEM private key of `certFile`. */
    readonly keyFile?: string;
    /** Name the target's certificate must carry; absent: the target's host name. */
    readonly serverName?: string;
  };
  /** The REST gateway's port (docs/rest.md); absent when `REST=false`. */
  readonly rest?: {
    /** 0 picks a free port (logged as `restPort`). */
    readonly port: number;
    /** Open connections on the REST port beyond which new ones are closed at accept. */
    readonly maxConnections: number;
    /** Open connections from one source address on the REST port; default half the cap. */
    readonly maxConnectionsPerAddress: number;
    /** Largest request body of a unary call (streams are limited per message instead). */
    readonly maxBodyBytes: number;
    /** Origins answered with CORS headers (`*`: any); empty: no CORS. */
    readonly corsOrigins: readonly string[];
  };
}

/** A configuration problem; the message lists every bad variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

const KNOWN = new Set(Object.keys(schema.shape));
const SECRET = new Set(['REDIS_URL', 'AUTH_TOKEN', 'AUTH_HS256_SECRET']);

/** Parses the environment once into a frozen Config, or throws a ConfigError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable means "not set", as it does for most twelve-factor services.
  const present = Object.fromEntries(
    Object.entries(env).filter(([name, value]) => KNOWN.has(name) && value !== ''),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '');
      // Secrets (credentials in REDIS_URL, the token) never reach the logs.
      const shown = SECRET.has(name) ? '<redacted>' : JSON.stringify(env[name] ?? '');
      return `${name}=${shown}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  return deepFreeze({
    host: e.HOST,
    port: e.PORT,
    featuresFile: path.resolve(e.FEATURES_FILE),
    logLevel: e.LOG_LEVEL,
    replicaId: e.REPLICA_ID ?? hostname(),
    notes: {
      maxPerLocation: e.NOTES_MAX_PER_LOCATION,
      maxTotal: e.NOTES_MAX_TOTAL,
      maxTotalChars: e.NOTES_MAX_TOTAL_CHARS,
    },
    ...(e.REDIS_URL !== undefined
      ? {
          redis: {
            url: e.REDIS_URL,
            cluster: e.REDIS_CLUSTER,
            keyPrefix: e.REDIS_KEY_PREFIX,
            ttlSeconds: e.REDIS_NOTES_TTL_SECONDS,
            commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
          },
        }
      : {}),
    connections: {
      maxAgeMs: e.MAX_CONNECTION_AGE_MS,
      ...(e.MAX_CONNECTION_AGE_GRACE_MS !== undefined
        ? { maxAgeGraceMs: e.MAX_CONNECTION_AGE_GRACE_MS }
        : {}),
      keepaliveTimeMs: e.KEEPALIVE_TIME_MS,
      keepaliveTimeoutMs: e.KEEPALIVE_TIMEOUT_MS,
      maxReceiveMessageBytes: e.MAX_RECEIVE_MESSAGE_BYTES,
      maxConcurrentStreams: e.MAX_CONCURRENT_STREAMS,
      maxConnections: e.MAX_CONNECTIONS,
      maxConnectionsPerAddress: e.MAX_CONNECTIONS_PER_ADDRESS ?? halfOf(e.MAX_CONNECTIONS),
      handshakeTimeoutMs: e.CONNECTION_HANDSHAKE_TIMEOUT_MS,
      idleTimeoutMs: e.CONNECTION_IDLE_TIMEOUT_MS,
    },
    admission: {
      maxCalls: e.MAX_STREAMING_CALLS,
      maxCallsPerConnection: e.MAX_STREAMING_CALLS_PER_CONNECTION,
      pushbackMs: e.RETRY_PUSHBACK_MS,
      ...(e.MEMORY_LIMIT_BYTES !== undefined ? { memoryLimitBytes: e.MEMORY_LIMIT_BYTES } : {}),
      memorySoftPercent: e.MEMORY_SOFT_PERCENT,
      memoryHardPercent: e.MEMORY_HARD_PERCENT,
    },
    metrics: { enabled: e.METRICS, port: e.METRICS_PORT },
    reflection: e.REFLECTION,
    orca: { enabled: e.ORCA, minReportIntervalMs: e.ORCA_MIN_REPORT_INTERVAL_MS },
    shutdown: { delayMs: e.SHUTDOWN_DELAY_MS, graceMs: e.SHUTDOWN_GRACE_MS },
    ...(e.HEALTH_PORT !== undefined ? { healthPort: e.HEALTH_PORT } : {}),
    ...(e.TLS_CERT_FILE !== undefined && e.TLS_KEY_FILE !== undefined
      ? {
          tls: {
            certFile: path.resolve(e.TLS_CERT_FILE),
            keyFile: path.resolve(e.TLS_KEY_FILE),
            ...(e.TLS_CLIENT_CA_FILE !== undefined
              ? { clientCaFile: path.resolve(e.TLS_CLIENT_CA_FILE) }
              : {}),
            reloadIntervalMs: e.TLS_RELOAD_INTERVAL_MS,
          },
        }
      : {}),
    ...(e.AUTH_TOKEN !== undefined ? { authToken: e.AUTH_TOKEN } : {}),
    ...(jwtConfigured(e) ? { jwt: jwtSettings(e) } : {}),
    authReflection: e.AUTH_REFLECTION,
    ...(e.GATEWAY_TARGET !== undefined ? { gatewayTarget: e.GATEWAY_TARGET } : {}),
    ...(e.GATEWAY_TARGET_TLS === true || gatewayTlsMaterial(e)
      ? { gatewayTargetTls: gatewayTargetTls(e) }
      : {}),
    ...(e.REST
      ? {
          rest: {
            port: e.REST_PORT,
            maxConnections: e.REST_MAX_CONNECTIONS,
            maxConnectionsPerAddress:
              e.REST_MAX_CONNECTIONS_PER_ADDRESS ?? halfOf(e.REST_MAX_CONNECTIONS),
            maxBodyBytes: e.REST_MAX_BODY_BYTES,
            corsOrigins: e.REST_CORS_ORIGINS ?? [],
          },
        }
      : {}),
  });
}

type Parsed = z.output<typeof schema>;

/** A port's default share for one source address: half its connection cap, rounded up. */
function halfOf(maxConnections: number): number {
  return Math.ceil(maxConnections / 2);
}

function gatewayTargetTls(e: Parsed): NonNullable<Config['gatewayTargetTls']> {
  const resolved = (file: string | undefined) =>
    file === undefined ? undefined : path.resolve(file);
  const caFile = resolved(e.GATEWAY_TARGET_CA_FILE);
  const certFile = resolved(e.GATEWAY_TARGET_CERT_FILE);
  const keyFile = resolved(e.GATEWAY_TARGET_KEY_FILE);
  return {
    ...(caFile !== undefined ? { caFile } : {}),
    ...(certFile !== undefined ? { certFile } : {}),
    ...(keyFile !== undefined ? { keyFile } : {}),
    ...(e.GATEWAY_TARGET_SERVER_NAME !== undefined
      ? { serverName: e.GATEWAY_TARGET_SERVER_NAME }
      : {}),
  };
}

function jwtSettings(e: Parsed): JwtSettings {
  return {
    ...(e.AUTH_JWKS_URL !== undefined ? { jwksUrl: e.AUTH_JWKS_URL } : {}),
    ...(e.AUTH_JWKS_FILE !== undefined ? { jwksFile: path.resolve(e.AUTH_JWKS_FILE) } : {}),
    ...(e.AUTH_HS256_SECRET !== undefined ? { hs256Secret: e.AUTH_HS256_SECRET } : {}),
    issuer: e.AUTH_ISSUER!,
    audience: e.AUTH_AUDIENCE!,
    algorithms: e.AUTH_ALGORITHMS,
    clockSkewSeconds: e.AUTH_CLOCK_SKEW_SECONDS,
    scopes: e.AUTH_SCOPES,
    maxTokenBytes: e.AUTH_MAX_TOKEN_BYTES,
    refreshMs: e.AUTH_JWKS_REFRESH_MS,
    minRefreshMs: e.AUTH_JWKS_MIN_REFRESH_MS,
    maxStaleMs: e.AUTH_JWKS_MAX_STALE_MS,
    fetchTimeoutMs: e.AUTH_JWKS_FETCH_TIMEOUT_MS,
  };
}
