/**
 * The client's default gRPC service config: round robin over every address the resolver
 * returns, and transparent retries of the idempotent calls when a replica is unreachable.
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

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}

/**
 * Builds the service config JSON object grpc-js takes as `grpc.service_config`.
 *
 * No `retryThrottling` on purpose: throttling stops retrying exactly when many calls fail at
 * once, which is what losing a replica looks like, and failover must hide that from callers.
 * Retries only happen before response headers arrive, and only for UNAVAILABLE (the server
 * never ran the call or could not be reached), so a read is never observed twice.
 */
export function defaultServiceConfig(retry: RetryOptions = {}): Record<string, unknown> {
  const r = { ...DEFAULT_RETRY, ...retry };
  return {
    loadBalancingConfig: [{ round_robin: {} }],
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
