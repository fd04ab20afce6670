import { AnyAuthenticator } from './any-authenticator';
import type { Authenticator } from './authenticator';
import { JwksKeys } from './jwks-keys';
import { JwtAuthenticator } from './jwt-authenticator';
import type { ScopePolicy } from './scopes';
import { StaticTokenAuthenticator } from './static-token';

/** JWT verification settings (`AUTH_JWKS_*`, `AUTH_ISSUER`, …); see README Configuration. */
export interface JwtSettings {
  /** `AUTH_JWKS_URL`; exclusive with `jwksFile`. */
  readonly jwksUrl?: string;
  /** `AUTH_JWKS_FILE`; exclusive with `jwksUrl`. */
  readonly jwksFile?: string;
  /** `AUTH_HS256_SECRET`: enables HS256 tokens signed with this secret only. */
  readonly hs256Secret?: string;
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  readonly clockSkewSeconds: number;
  readonly scopes: ScopePolicy;
  readonly maxTokenBytes: number;
  readonly refreshMs: number;
  readonly minRefreshMs: number;
  readonly maxStaleMs: number;
  readonly fetchTimeoutMs: number;
}

/** What {@link createAuthenticator} builds from the configuration. */
export interface AuthSettings {
  /** `AUTH_TOKEN`. */
  readonly token?: string;
  readonly jwt?: JwtSettings;
  /** Services whose calls need a credential (RouteGuide, and reflection with AUTH_REFLECTION). */
  readonly services: readonly string[];
  /** Key set events, for logs. Default: nothing. */
  readonly onKeysLoaded?: (keyCount: number) => void;
  readonly onKeysError?: (error: Error) => void;
}

/** The authenticator every face uses, and the JWKS it depends on (the owner starts and closes it). */
export interface AuthSetup {
  readonly authenticator: Authenticator;
  /** The JWKS key set when one is configured; `start()` it before serving, `close()` at shutdown. */
  readonly keys: JwksKeys | undefined;
}

/**
 * The static token, the JWT verifier, or both (either credential passes); undefined when
 * neither is configured (every call is open).
 */
export function createAuthenticator(settings: AuthSettings): AuthSetup | undefined {
  const authenticators: Authenticator[] = [];
  const { token, jwt, services } = settings;
  if (token !== undefined) authenticators.push(new StaticTokenAuthenticator({ token, services }));
  let keys: JwksKeys | undefined;
  if (jwt !== undefined) {
    const source = jwt.jwksUrl ?? jwt.jwksFile;
    if (source !== undefined) {
      keys = new JwksKeys({
        ...(jwt.jwksUrl !== undefined ? { url: jwt.jwksUrl } : { file: jwt.jwksFile! }),
        refreshMs: jwt.refreshMs,
        minRefreshMs: jwt.minRefreshMs,
        maxStaleMs: jwt.maxStaleMs,
        fetchTimeoutMs: jwt.fetchTimeoutMs,
        ...(settings.onKeysLoaded ? { onLoaded: settings.onKeysLoaded } : {}),
        ...(settings.onKeysError ? { onError: settings.onKeysError } : {}),
      });
    }
    authenticators.push(
      new JwtAuthenticator({
        ...(keys ? { keys } : {}),
        ...(jwt.hs256Secret !== undefined
          ? { hs256Secret: new TextEncoder().encode(jwt.hs256Secret) }
          : {}),
        issuer: jwt.issuer,
        audience: jwt.audience,
        algorithms: jwt.algorithms,
        clockSkewSeconds: jwt.clockSkewSeconds,
        scopes: jwt.scopes,
        services,
        maxTokenBytes: jwt.maxTokenBytes,
      }),
    );
  }
  if (authenticators.length === 0) return undefined;
  const authenticator =
    authenticators.length === 1 ? authenticators[0]! : new AnyAuthenticator(authenticators);
  return { authenticator, keys };
}
