import { AuthFailure, type AuthRequest, type Authenticator, type Caller } from './authenticator';

/** Which failure the caller hears when every credential check failed: the most specific. */
const RANK: Readonly<Record<AuthFailure['kind'], number>> = {
  unauthenticated: 0,
  unavailable: 1,
  'permission-denied': 2,
};

/**
 * Accepts a call that any of `authenticators` accepts, tried in order (cheapest first): with
 * both AUTH_TOKEN and JWT configured either credential passes, so clients can migrate one at a
 * time. When all refuse, the most specific failure wins (a valid token lacking a scope over an
 * invalid one; unavailable keys over an invalid static token), ties going to the later one.
 */
export class AnyAuthenticator implements Authenticator {
  constructor(private readonly authenticators: readonly Authenticator[]) {
    if (authenticators.length === 0) throw new Error('AnyAuthenticator needs an authenticator');
  }

  authenticate(request: AuthRequest): Caller | Promise<Caller> {
    return this.from(0, request, undefined);
  }

  private from(
    index: number,
    request: AuthRequest,
    failure: AuthFailure | undefined,
  ): Caller | Promise<Caller> {
    const authenticator = this.authenticators[index];
    if (authenticator === undefined) throw failure;
    const next = (error: unknown): Caller | Promise<Caller> => {
      if (!(error instanceof AuthFailure)) throw error;
      const worst =
        failure !== undefined && RANK[failure.kind] > RANK[error.kind] ? failure : error;
      return this.from(index + 1, request, worst);
    };
    let result: Caller | Promise<Caller>;
    try {
      result = authenticator.authenticate(request);
    } catch (error) {
      return next(error);
    }
    return result instanceof Promise ? result.catch(next) : result;
  }
}
