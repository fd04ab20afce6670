/**
 * gRPC target names the client understands. grpc-js resolves them itself; this module only
 * classifies them, so the factory knows when xDS support must be registered.
 */

/** Where the CLI and the factory connect when no target is given. */
export const DEFAULT_TARGET = 'localhost:50051';

export type TargetScheme = 'dns' | 'ipv4' | 'ipv6' | 'unix' | 'xds' | 'passthrough';

const KNOWN_SCHEMES: readonly TargetScheme[] = [
  'dns',
  'ipv4',
  'ipv6',
  'unix',
  'xds',
  'passthrough',
];

/** A target that cannot be used; the message says why. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

/**
 * The scheme grpc-js will use for `target`. A bare `host:port` has none and means DNS, as in
 * every gRPC implementation. Examples: `dns:///routeguide:50051` (headless Service, compose
 * service with replicas), `dns://10.0.0.10:53/routeguide:50051` (ask that DNS server),
 * `ipv4:10.0.0.1:50051,10.0.0.2:50051`, `xds:///routeguide`.
 */
export function targetScheme(target: string): TargetScheme {
  const trimmed = target.trim();
  if (trimmed === '') throw new TargetError('target is empty');
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed);
  // "localhost:50051" also matches the regex; a scheme is only a scheme if it is one we know
  // or is followed by "//", otherwise it is a host name.
  if (match) {
    const scheme = match[1]!.toLowerCase();
    if ((KNOWN_SCHEMES as readonly string[]).includes(scheme)) return scheme as TargetScheme;
    if (trimmed.slice(match[0].length).startsWith('//')) {
      throw new TargetError(
        `unsupported target scheme "${scheme}:" in ${JSON.stringify(target)} (use ${KNOWN_SCHEMES.join(', ')})`,
      );
    }
  }
  return 'dns';
}

export function isXdsTarget(target: string): boolean {
  return targetScheme(target) === 'xds';
}
