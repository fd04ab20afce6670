import { createHash } from 'node:crypto';

/** Default of {@link VerifiedTokensOptions.maxEntries}. */
export const DEFAULT_VERIFIED_TOKENS = 10_000;

/** Options for {@link VerifiedTokens}. */
export interface VerifiedTokensOptions {
  /** Tokens remembered at most; the oldest is forgotten first. Default {@link DEFAULT_VERIFIED_TOKENS}. */
  readonly maxEntries?: number;
  /** Clock in epoch ms (tests). Default `Date.now`. */
  readonly now?: () => number;
}

/** What a verified token proved: kept instead of the token (which may be kilobytes). */
export interface VerifiedClaims {
  readonly subject: string | undefined;
  readonly scopes: ReadonlySet<string>;
}

interface Entry {
  readonly claims: VerifiedClaims;
  /** The token's `exp` in epoch ms: not served after it. */
  readonly expiresAtMs: number;
  /** The key set (resolver or secret) it was verified with. */
  readonly verifiedWith: object;
}

/**
 * Tokens already verified, so a client that sends the same access token on every call (as
 * clients do until it expires) pays for one signature check, not one per call. An entry is
 * found by the token's SHA-256 and served only while the token has not expired and the key set
 * it was verified with is still the current one: a key removed from the JWKS, or keys gone stale,
 * end it as they end verification. Only verified tokens enter, so invalid tokens cannot fill it.
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: VerifiedTokensOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_VERIFIED_TOKENS;
    this.now = options.now ?? Date.now;
  }

  /** Tokens remembered. */
  get size(): number {
    return this.entries.size;
  }

  /** The claims of `token` if it was verified with `keySet` and has not expired. */
  get(token: string, keySet: object): VerifiedClaims | undefined {
    const key = digest(token);
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.verifiedWith !== keySet || this.now() >= entry.expiresAtMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.claims;
  }

  /** Remembers a token verified with `keySet`, until its `exp` (epoch seconds). */
  set(token: string, keySet: object, expSeconds: number, claims: VerifiedClaims): void {
    const key = digest(token);
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { claims, expiresAtMs: expSeconds * 1000, verifiedWith: keySet });
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('base64');
}
