import type * as GrpcJsXds from '@grpc/grpc-js-xds';
import { TargetError } from './targets';

/** Environment variables grpc-js-xds reads its bootstrap from (the first set wins). */
export const XDS_BOOTSTRAP_VARIABLES = ['GRPC_XDS_BOOTSTRAP', 'GRPC_XDS_BOOTSTRAP_CONFIG'] as const;

/**
 * Makes `xds:` targets resolvable. Loaded lazily so that clients that never use xDS do not pay
 * for (or depend on) the xDS machinery. Without a bootstrap, grpc-js-xds would only report a
 * resolution failure to each call, so this fails first with a message that says what to set.
 * Registering twice is harmless: grpc-js keeps one resolver per scheme.
 */
export function registerXds(): void {
  // grpc-js-xds reads process.env itself, so this checks the same place.
  if (!XDS_BOOTSTRAP_VARIABLES.some((name) => (process.env[name] ?? '') !== '')) {
    throw new TargetError(
      'xds: targets need an xDS bootstrap: set GRPC_XDS_BOOTSTRAP to the path of a bootstrap ' +
        'JSON file or GRPC_XDS_BOOTSTRAP_CONFIG to its contents',
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const xds = require('@grpc/grpc-js-xds') as typeof GrpcJsXds;
  xds.register();
}
