/** The RouteGuide service whose methods the default policy names. */
const ROUTE_GUIDE_SERVICE = 'routeguide.RouteGuide';

/** Scopes a token must carry, per gRPC method path; methods not listed need a valid token only. */
export type ScopePolicy = Readonly<Record<string, readonly string[]>>;

/** Read methods need `routeguide.read`, the ones that write notes or routes `routeguide.write`. */
export const DEFAULT_SCOPES: ScopePolicy = Object.freeze({
  [`/${ROUTE_GUIDE_SERVICE}/GetFeature`]: Object.freeze(['routeguide.read']),
  [`/${ROUTE_GUIDE_SERVICE}/ListFeatures`]: Object.freeze(['routeguide.read']),
  [`/${ROUTE_GUIDE_SERVICE}/RecordRoute`]: Object.freeze(['routeguide.write']),
  [`/${ROUTE_GUIDE_SERVICE}/RouteChat`]: Object.freeze(['routeguide.write']),
});

const METHOD = /^(?:[A-Za-z_][\w]*|\/[\w.]+\/[A-Za-z_]\w*)$/;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * Parses an `AUTH_SCOPES` override onto the defaults: comma-separated `Method=scope scope…`
 * entries, where `Method` is a RouteGuide method name (`GetFeature`) or a full path
 * (`/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`) and the scopes are
 * space-separated, all required. An empty scope list means a valid token suffices. Throws an
 * Error naming the bad entry.
 */
export function parseScopePolicy(
  text: string,
  defaults: ScopePolicy = DEFAULT_SCOPES,
): ScopePolicy {
  const policy: Record<string, readonly string[]> = { ...defaults };
  for (const entry of text.split(',')) {
    if (entry.trim() === '') continue;
    const equals = entry.indexOf('=');
    const method = (equals < 0 ? entry : entry.slice(0, equals)).trim();
    if (equals < 0 || !METHOD.test(method)) {
      throw new Error(`"${entry.trim()}": expected Method=scope (space-separated scopes)`);
    }
    const scopes = entry
      .slice(equals + 1)
      .split(/\s+/)
      .filter((scope) => scope !== '');
    const bad = scopes.find((scope) => !SCOPE.test(scope));
    if (bad !== undefined) throw new Error(`"${bad}" is not a valid scope token (RFC 6749 §3.3)`);
    const path = method.startsWith('/') ? method : `/${ROUTE_GUIDE_SERVICE}/${method}`;
    policy[path] = Object.freeze(scopes);
  }
  return Object.freeze(policy);
}

/** The scopes a verified token grants: its `scope` claim (space-separated) or `scp` (array or string). */
export function grantedScopes(payload: Readonly<Record<string, unknown>>): ReadonlySet<string> {
  const granted = new Set<string>();
  for (const claim of [payload['scope'], payload['scp']]) {
    if (typeof claim === 'string') {
      for (const scope of claim.split(' ')) if (scope !== '') granted.add(scope);
    } else if (Array.isArray(claim)) {
      for (const scope of claim) if (typeof scope === 'string') granted.add(scope);
    }
  }
  return granted;
}

/** The first scope in `required` that `granted` lacks, or undefined. */
export function missingScope(
  required: readonly string[],
  granted: ReadonlySet<string>,
): string | undefined {
  return required.find((scope) => !granted.has(scope));
}
