import {
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import {
  ANONYMOUS,
  AuthFailure,
  bearerToken,
  type AuthRequest,
  type Authenticator,
  type Caller,
} from './authenticator';
import type { JwksKeys } from './jwks-keys';
import { grantedScopes, missingScope, type ScopePolicy } from './scopes';
import { VerifiedTokens, type VerifiedClaims } from './verified-tokens';

/** Default longest bearer token accepted; longer ones are refused before any parsing. */
export const DEFAULT_MAX_TOKEN_BYTES = 8192;
/** Default tolerance of `exp`/`nbf`/`iat` checks, in seconds. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;
/** Default signature algorithms: asymmetric only, so a public key can never sign. */
export const DEFAULT_ALGORITHMS: readonly string[] = Object.freeze(['RS256', 'ES256', 'EdDSA']);
/** Asymmetric algorithms that may be listed in `algorithms`. */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = Object.freeze([
  ...['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  ...['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'],
]);

/** Options for {@link JwtAuthenticator}. */
export interface JwtAuthenticatorOptions {
  /** The identity provider's public keys (JWKS); undefined: only `hs256Secret` tokens. */
  readonly keys?: JwksKeys;
  /**
   * A shared HS256 secret (`AUTH_HS256_SECRET`, at least 32 bytes). Only with it are HS256
   * tokens verified, and only with it: never with a JWKS key. Default: none.
   */
  readonly hs256Secret?: Uint8Array;
  /** Required `iss`. */
  readonly issuer: string;
  /** Required `aud` (one of the token's audiences). */
  readonly audience: string;
  /** Accepted `alg`s of JWKS-signed tokens. Default {@link DEFAULT_ALGORITHMS}. */
  readonly algorithms?: readonly string[];
  /** Default {@link DEFAULT_CLOCK_SKEW_SECONDS}. */
  readonly clockSkewSeconds?: number;
  /** Scopes per method path. */
  readonly scopes: ScopePolicy;
  /** Fully-qualified services whose calls need a token; others pass as anonymous. */
  readonly services: readonly string[];
  /** Default {@link DEFAULT_MAX_TOKEN_BYTES}. */
  readonly maxTokenBytes?: number;
  /** Tokens already verified (see verified-tokens.ts). Default: a cache of 10,000 tokens. */
  readonly verified?: VerifiedTokens;
}

/** `Bearer error="invalid_token"` with a description (RFC 6750 §3). */
function invalidToken(description: string): AuthFailure {
  return new AuthFailure(
    'unauthenticated',
    `invalid bearer token: ${description}`,
    `Bearer error="invalid_token", error_description="${description}"`,
  );
}

/** The caller-facing reason of a jose verification error; never key material. */
function describeJoseError(error: unknown): string | undefined {
  if (error instanceof errors.JWTExpired) return 'token expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' || error.claim === 'iat') return 'token not yet valid';
    if (error.claim === 'iss') return 'wrong issuer';
    if (error.claim === 'aud') return 'wrong audience';
    return `claim "${error.claim}" ${error.reason === 'missing' ? 'missing' : 'invalid'}`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return 'signature verification failed';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'signing algorithm not allowed';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no known key matches the token';
  if (error instanceof errors.JWKSMultipleMatchingKeys) return 'the token matches several keys';
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid)
    return 'malformed token';
  if (error instanceof errors.JOSENotSupported) return 'unsupported token or key type';
  if (error instanceof errors.JOSEError) return 'token rejected';
  return undefined;
}

/**
 * Verifies OAuth 2.0 / OIDC access tokens (JWS-signed JWTs) against the identity provider's
 * JWKS, then the method's required scopes. The token must carry `exp`, the configured `iss` and
 * `aud`, and be signed with an allowed algorithm by a key of the current set; `none` and HS*
 * never verify with a JWKS key.
 */
export class JwtAuthenticator implements Authenticator {
  private readonly prefixes: readonly string[];
  private readonly verifyOptions: JWTVerifyOptions;
  private readonly hsOptions: JWTVerifyOptions;
  private readonly algorithms: ReadonlySet<string>;
  private readonly maxTokenBytes: number;
  private readonly verified: VerifiedTokens;

  constructor(private readonly options: JwtAuthenticatorOptions) {
    const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
    const symmetric = algorithms.find((alg) => !ASYMMETRIC_ALGORITHMS.includes(alg));
    if (symmetric !== undefined) {
      throw new Error(`algorithm ${symmetric} is not an asymmetric JWS algorithm`);
    }
    if (options.keys === undefined && options.hs256Secret === undefined) {
      throw new Error('JwtAuthenticator needs keys or an HS256 secret');
    }
    if (options.hs256Secret !== undefined && options.hs256Secret.length < 32) {
      throw new Error('the HS256 secret must be at least 32 bytes');
    }
    this.algorithms = new Set(algorithms);
    this.prefixes = options.services.map((service) => `/${service}/`);
    this.maxTokenBytes = options.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    this.verified = options.verified ?? new VerifiedTokens();
    const common: JWTVerifyOptions = {
      issuer: options.issuer,
      audience: options.audience,
      clockTolerance: options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp'],
    };
    this.verifyOptions = { ...common, algorithms: [...algorithms] };
    this.hsOptions = { ...common, algorithms: ['HS256'] };
  }

  /** Whether calls to this method need a token. */
  protects(grpcPath: string): boolean {
    return this.prefixes.some((prefix) => grpcPath.startsWith(prefix));
  }

  authenticate(request: AuthRequest): Caller | Promise<Caller> {
    if (!this.protects(request.grpcPath)) return ANONYMOUS;
    const token = bearerToken(request.authorization);
    if (token === undefined) {
      throw new AuthFailure('unauthenticated', 'missing authorization: Bearer <token> metadata');
    }
    if (token.length > this.maxTokenBytes) {
      throw invalidToken(`token longer than ${this.maxTokenBytes} bytes`);
    }
    const cached = this.verified.get(token, this.currentKeySet() ?? this.verified);
    if (cached !== undefined) return this.authorize(request.grpcPath, cached);
    return this.verify(token).then((claims) => this.authorize(request.grpcPath, claims));
  }

  /**
   * What a token verified now is verified with: the current JWKS resolver, else the HS256
   * secret (a cached token stays valid only while this is unchanged).
   */
  private currentKeySet(): object | undefined {
    return this.options.keys?.resolver() ?? this.options.hs256Secret;
  }

  /** The verified token's claims (remembered until it expires), or an AuthFailure. */
  private async verify(token: string): Promise<VerifiedClaims> {
    const { payload, keySet } = await this.verifySignature(token);
    const claims: VerifiedClaims = {
      subject: typeof payload.sub === 'string' ? payload.sub : undefined,
      scopes: grantedScopes(payload),
    };
    // `exp` is required by verification; the key set must still be the one it was checked with.
    if (typeof payload.exp === 'number' && keySet === this.currentKeySet()) {
      this.verified.set(token, keySet, payload.exp, claims);
    }
    return claims;
  }

  /** The verified payload and the key set that verified it, or an AuthFailure. */
  private async verifySignature(token: string): Promise<{ payload: JWTPayload; keySet: object }> {
    const alg = this.headerAlgorithm(token);
    const secret = this.options.hs256Secret;
    if (alg === 'HS256' && secret !== undefined) {
      return {
        payload: await this.run(() => jwtVerify(token, secret, this.hsOptions)),
        keySet: secret,
      };
    }
    const keys = this.options.keys;
    // Without a JWKS only HS256 (above) can verify: every other algorithm is refused.
    if (keys === undefined || !this.algorithms.has(alg)) {
      throw invalidToken('signing algorithm not allowed');
    }
    const resolve = keys.resolver();
    if (resolve === undefined) {
      throw new AuthFailure(
        'unavailable',
        'no token signing keys loaded (identity provider unreachable)',
      );
    }
    try {
      const payload = await this.run(() => jwtVerify(token, resolve, this.verifyOptions), true);
      return { payload, keySet: resolve };
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A key the set does not hold yet (rotation): reload, rate-limited, and try once more.
      if (!(await keys.refreshForUnknownKey())) throw invalidToken(describeJoseError(error)!);
      const again: JWTVerifyGetKey | undefined = keys.resolver();
      if (again === undefined) throw invalidToken(describeJoseError(error)!);
      return {
        payload: await this.run(() => jwtVerify(token, again, this.verifyOptions)),
        keySet: again,
      };
    }
  }

  /** The header's `alg`, or a malformed-token failure. */
  private headerAlgorithm(token: string): string {
    try {
      const { alg } = decodeProtectedHeader(token);
      if (typeof alg !== 'string') throw invalidToken('malformed token');
      return alg;
    } catch (error) {
      if (error instanceof AuthFailure) throw error;
      throw invalidToken('malformed token');
    }
  }

  /** Runs a verification, translating jose's errors (except an unknown key, when asked). */
  private async run(
    verify: () => Promise<{ payload: JWTPayload }>,
    passUnknownKey = false,
  ): Promise<JWTPayload> {
    try {
      return (await verify()).payload;
    } catch (error) {
      if (passUnknownKey && error instanceof errors.JWKSNoMatchingKey) throw error;
      const reason = describeJoseError(error);
      if (reason === undefined) throw error;
      throw invalidToken(reason);
    }
  }

  /** The caller, once the method's scopes are granted. */
  private authorize(grpcPath: string, claims: VerifiedClaims): Caller {
    const { scopes, subject } = claims;
    const required = this.options.scopes[grpcPath] ?? [];
    const missing = missingScope(required, scopes);
    if (missing !== undefined) {
      const method = grpcPath.slice(grpcPath.lastIndexOf('/') + 1);
      throw new AuthFailure(
        'permission-denied',
        `the token lacks scope "${missing}" needed by ${method}`,
        `Bearer error="insufficient_scope", scope="${required.join(' ')}"`,
      );
    }
    return { via: 'jwt', ...(subject !== undefined ? { subject } : {}), scopes };
  }
}
