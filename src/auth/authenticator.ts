/**
 * Who made a call, as far as authentication could tell. Faces put it in log lines and traces
 * (never in metric labels).
 */
export interface Caller {
  /** How the caller proved who it is. `none`: the method is open, nothing was checked. */
  readonly via: 'none' | 'static-token' | 'jwt' | 'mtls';
  /** The caller's subject (a JWT's `sub`, a client certificate's subject), when known. */
  readonly subject?: string;
  /** Scopes the caller was granted (a JWT's `scope`/`scp`), when known. */
  readonly scopes?: ReadonlySet<string>;
}

/** What went wrong, in terms every face maps to its own status. */
export type AuthFailureKind =
  /** No credential, or one that does not prove anything: gRPC UNAUTHENTICATED, HTTP 401. */
  | 'unauthenticated'
  /** A valid credential without the right to call this method: PERMISSION_DENIED, HTTP 403. */
  | 'permission-denied'
  /** Credentials cannot be checked right now (no keys loaded): UNAVAILABLE, HTTP 503. */
  | 'unavailable';

/**
 * A refused call. `message` helps the caller (which check failed) and carries no secret or key
 * material; `challenge` is the HTTP `WWW-Authenticate` value a REST face sends with it.
 */
export class AuthFailure extends Error {
  constructor(
    readonly kind: AuthFailureKind,
    message: string,
    readonly challenge: string = kind === 'unavailable' ? '' : bearerChallenge(kind),
  ) {
    super(message);
    this.name = 'AuthFailure';
  }
}

/** RFC 6750 §3: `Bearer` alone for a missing credential, with the error code otherwise. */
function bearerChallenge(kind: AuthFailureKind): string {
  return kind === 'permission-denied' ? 'Bearer error="insufficient_scope"' : 'Bearer';
}

/** What an authenticator sees of a call, whatever face it came in on. */
export interface AuthRequest {
  /** The gRPC method path, e.g. `/routeguide.RouteGuide/GetFeature` (REST calls map to it). */
  readonly grpcPath: string;
  /** The `authorization` metadata / HTTP header, if any. */
  readonly authorization: string | undefined;
}

/**
 * The one policy deciding who may call what, shared by the gRPC interceptor and the REST
 * gateway. Resolves with the caller, or rejects (or throws) with an {@link AuthFailure}.
 */
export interface Authenticator {
  authenticate(request: AuthRequest): Promise<Caller> | Caller;
}

/** The caller of an open method. */
export const ANONYMOUS: Caller = Object.freeze({ via: 'none' });

/** The token of an `authorization: Bearer <token>` value, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization.trim());
  return match?.[1];
}
