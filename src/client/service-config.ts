/**
 * The client's default gRPC service config: round robin (or weighted round robin) over every
 * address the resolver returns, optionally under outlier detection, and transparent retries of
 * the idempotent calls when a replica is unreachable.
 */

/** Methods that are safe to send again: they only read. */
export const IDEMPOTENT_METHODS = ['GetFeature', 'ListFeatures'] as const;

/** Retry tuning; every field has a default (see DEFAULT_RETRY). */
export interface RetryOptions {
  /** Total attempts including the first. grpc-js caps this at 5. Default 5. */
  readonly maxAttempts?: number;
  /** Backoff before the first retry, in ms (randomised by grpc-js). Default 50. */
  readonly initialBackoffMs?: number;
  /** Upper bound on the backoff, in ms. Default 1000. */
  readonly maxBackoffMs?: number;
  /** Backoff growth per attempt. Default 2. */
  readonly backoffMultiplier?: number;
  /**
   * Further GetFeature attempts the client library makes itself when a call still ends
   * UNAVAILABLE after grpc-js's retries. grpc-js never retries a call whose response headers
   * had arrived when the connection dropped (a replica killed mid-response); GetFeature is a
   * read, so sending it again is safe. Each attempt stays within the call's deadline. Default 2.
   */
  readonly reattempts?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = Object.freeze({
  maxAttempts: 5,
  initialBackoffMs: 50,
  maxBackoffMs: 1000,
  backoffMultiplier: 2,
  reattempts: 2,
});

/**
 * `retryThrottling` (gRFC A6): a token bucket per target, full at `maxTokens`; each attempt that
 * fails with a retryable status takes a token, each success gives back `tokenRatio`, and no
 * retry is made while half or fewer remain. Default: 100 tokens, 0.1 back per success.
 */
export interface RetryThrottlingOptions {
  readonly maxTokens?: number;
  readonly tokenRatio?: number;
}

export const DEFAULT_RETRY_THROTTLING: Required<RetryThrottlingOptions> = Object.freeze({
  maxTokens: 100,
  tokenRatio: 0.1,
});

/** The balancing policies the client offers (both ship with grpc-js ≥ 1.14). */
export const LOAD_BALANCING_POLICIES = ['round_robin', 'weighted_round_robin'] as const;
export type LoadBalancingPolicy = (typeof LOAD_BALANCING_POLICIES)[number];

/**
 * weighted_round_robin tuning (gRFC A58). Each replica's weight is its QPS ÷ CPU utilization
 * (plus `errorUtilizationPenalty` × errors ÷ QPS), from the ORCA load reports the servers stream
 * out of band. The defaults react within about three seconds of the first call, so a short
 * `spread` shows the effect; grpc's own defaults (10 s reports, 10 s blackout) suit only
 * long-running clients.
 */
export interface WeightedRoundRobinOptions {
  /**
   * Load report interval asked of each replica, in ms. The server grants no less than its
   * `ORCA_MIN_REPORT_INTERVAL_MS` (default 1000). Default 1000 (grpc: 10000).
   */
  readonly reportingPeriodMs?: number;
  /**
   * How long a replica must have reported load before its weight is used; until then it gets
   * the mean weight. Guards against weights from a replica's first, unrepresentative second.
   * Default 1000 (grpc: 10000).
   */
  readonly blackoutPeriodMs?: number;
  /**
   * A weight not refreshed for this long is dropped (the replica gets the mean weight again,
   * and a new blackout). Default 30000 (grpc: 180000).
   */
  readonly weightExpirationPeriodMs?: number;
  /** How often the picker is rebuilt from current weights, in ms; grpc-js's minimum is 100. Default 500 (grpc: 1000). */
  readonly weightUpdatePeriodMs?: number;
  /** Multiplier of errors-per-query added to utilization. Default 1 (grpc: 1). */
  readonly errorUtilizationPenalty?: number;
}

export const DEFAULT_WEIGHTED_ROUND_ROBIN: Required<WeightedRoundRobinOptions> = Object.freeze({
  reportingPeriodMs: 1000,
  blackoutPeriodMs: 1000,
  weightExpirationPeriodMs: 30_000,
  weightUpdatePeriodMs: 500,
  errorUtilizationPenalty: 1,
});

/**
 * outlier_detection tuning (gRFC A50, failure-percentage ejection): every `intervalMs`, a
 * replica that got at least `requestVolume` calls (attempts; retries count separately) of which
 * more than `thresholdPercent` failed (any status other than OK) is ejected for
 * `baseEjectionTimeMs` × the number of times it was ejected (at most `maxEjectionTimeMs`). New
 * ejections stop once `maxEjectionPercent` of the replicas are out (grpc-js checks before each
 * ejection, so one more may go: with three replicas and 50%, up to two).
 */
export interface OutlierDetectionOptions {
  /** Default 1000 (grpc: 10000). */
  readonly intervalMs?: number;
  /** Default 30000 (grpc: 30000). */
  readonly baseEjectionTimeMs?: number;
  /** Default 300000 (grpc: 300000). */
  readonly maxEjectionTimeMs?: number;
  /** Default 50 (grpc: 10). */
  readonly maxEjectionPercent?: number;
  /** Default 50 (grpc: 85). */
  readonly thresholdPercent?: number;
  /** Replicas with enough calls needed before anyone is judged. Default 2 (grpc: 5). */
  readonly minimumHosts?: number;
  /** Calls a replica needs in an interval to be judged. Default 20 (grpc: 50). */
  readonly requestVolume?: number;
}

export const DEFAULT_OUTLIER_DETECTION: Required<OutlierDetectionOptions> = Object.freeze({
  intervalMs: 1000,
  baseEjectionTimeMs: 30_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 50,
  thresholdPercent: 50,
  minimumHosts: 2,
  requestVolume: 20,
});

/** How calls are spread over the replicas. */
export interface LoadBalancingOptions {
  /** Default `round_robin`. */
  readonly policy?: LoadBalancingPolicy;
  /** Used when `policy` is `weighted_round_robin`; defaults in DEFAULT_WEIGHTED_ROUND_ROBIN. */
  readonly weightedRoundRobin?: WeightedRoundRobinOptions;
  /**
   * Eject replicas whose failure rate stands out: `true` for DEFAULT_OUTLIER_DETECTION, or
   * tuning. Default off.
   */
  readonly outlierDetection?: boolean | OutlierDetectionOptions;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}

/**
 * `{seconds, nanos}`: grpc-js's outlier_detection parser takes only this form of a Duration,
 * not the "1.5s" strings of the service config JSON mapping (weighted_round_robin takes both).
 */
function duration(ms: number): { seconds: number; nanos: number } {
  const whole = Math.floor(ms / 1000);
  return { seconds: whole, nanos: Math.round((ms - whole * 1000) * 1e6) };
}

/**
 * The `loadBalancingConfig` list. With outlier detection it comes first, wrapping the policy;
 * the bare policy follows as a fallback for a grpc-js where outlier detection is switched off
 * (`GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION=false` unregisters it, and grpc-js takes the
 * first entry it knows).
 */
export function loadBalancingConfig(options: LoadBalancingOptions = {}): Record<string, object>[] {
  const policy = options.policy ?? 'round_robin';
  let child: Record<string, object>;
  if (policy === 'weighted_round_robin') {
    const w = { ...DEFAULT_WEIGHTED_ROUND_ROBIN, ...options.weightedRoundRobin };
    child = {
      weighted_round_robin: {
        // Out of band: one StreamCoreMetrics stream per replica. Per-call reports would cost
        // every call a trailer (and, in grpc-js 1.14, a .proto parse on each side).
        enable_oob_load_report: true,
        oob_load_reporting_period: seconds(w.reportingPeriodMs),
        blackout_period: seconds(w.blackoutPeriodMs),
        weight_expiration_period: seconds(w.weightExpirationPeriodMs),
        weight_update_period: seconds(w.weightUpdatePeriodMs),
        error_utilization_penalty: w.errorUtilizationPenalty,
      },
    };
  } else {
    child = { round_robin: {} };
  }
  if (!options.outlierDetection) return [child];
  const o = {
    ...DEFAULT_OUTLIER_DETECTION,
    ...(options.outlierDetection === true ? {} : options.outlierDetection),
  };
  return [
    {
      outlier_detection: {
        interval: duration(o.intervalMs),
        base_ejection_time: duration(o.baseEjectionTimeMs),
        max_ejection_time: duration(o.maxEjectionTimeMs),
        max_ejection_percent: o.maxEjectionPercent,
        failure_percentage_ejection: {
          threshold: o.thresholdPercent,
          enforcement_percentage: 100,
          minimum_hosts: o.minimumHosts,
          request_volume: o.requestVolume,
        },
        child_policy: [child],
      },
    },
    child,
  ];
}

/**
 * Builds the service config JSON object grpc-js takes as `grpc.service_config`.
 *
 * Retries only happen before response headers arrive, and only for UNAVAILABLE (the server
 * never ran the call, could not be reached, or shed it), so a read is never observed twice. A
 * server that sheds load sends `grpc-retry-pushback-ms`, which grpc-js's retry honours (it waits
 * that long instead of its backoff). `retryThrottling` keeps overload from being amplified:
 * when retryable failures pile up (every replica shedding), retries stop until calls succeed
 * again. Its bucket is large enough that losing one replica — the in-flight calls on it fail
 * once — leaves failover working.
 */
export function defaultServiceConfig(
  retry: RetryOptions = {},
  loadBalancing: LoadBalancingOptions = {},
  throttling: RetryThrottlingOptions = {},
): Record<string, unknown> {
  const r = { ...DEFAULT_RETRY, ...retry };
  return {
    loadBalancingConfig: loadBalancingConfig(loadBalancing),
    retryThrottling: { ...DEFAULT_RETRY_THROTTLING, ...throttling },
    methodConfig: [
      {
        name: IDEMPOTENT_METHODS.map((method) => ({ service: 'routeguide.RouteGuide', method })),
        retryPolicy: {
          maxAttempts: r.maxAttempts,
          initialBackoff: seconds(r.initialBackoffMs),
          maxBackoff: seconds(r.maxBackoffMs),
          backoffMultiplier: r.backoffMultiplier,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
  };
}
