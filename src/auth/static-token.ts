import { createHash, timingSafeEqual } from 'node:crypto';
import {
  ANONYMOUS,
  AuthFailure,
  bearerToken,
  type AuthRequest,
  type Authenticator,
  type Caller,
} from './authenticator';

/** Options for {@link StaticTokenAuthenticator}. */
export interface StaticTokenOptions {
  /** The token callers must present as `authorization: Bearer <token>`. */
  readonly token: string;
  /** Fully-qualified services that need the token; calls to any other service pass. */
  readonly services: readonly string[];
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

const STATIC_TOKEN_CALLER: Caller = Object.freeze({ via: 'static-token' });

/**
 * One shared bearer token (`AUTH_TOKEN`) for the protected services. Health, reflection and ORCA
 * are not in `services`, so probes, grpcurl and load reports stay open.
 */
export class StaticTokenAuthenticator implements Authenticator {
  private readonly expected: Buffer;
  private readonly prefixes: readonly string[];

  constructor(options: StaticTokenOptions) {
    this.expected = digest(options.token);
    this.prefixes = options.services.map((service) => `/${service}/`);
  }

  /** Whether calls to this method need the token. */
  protects(grpcPath: string): boolean {
    return this.prefixes.some((prefix) => grpcPath.startsWith(prefix));
  }

  authenticate(request: AuthRequest): Caller {
    if (!this.protects(request.grpcPath)) return ANONYMOUS;
    const token = bearerToken(request.authorization);
    if (token === undefined) {
      throw new AuthFailure('unauthenticated', 'missing authorization: Bearer <token> metadata');
    }
    // Hashing first equalises lengths; the comparison takes the same time wherever they differ.
    if (!timingSafeEqual(digest(token), this.expected)) {
      throw new AuthFailure('unauthenticated', 'invalid bearer token');
    }
    return STATIC_TOKEN_CALLER;
  }
}
