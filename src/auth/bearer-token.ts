import { createHash, timingSafeEqual } from 'node:crypto';
import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status as Status,
  type Metadata,
  type ServerInterceptor,
} from '@grpc/grpc-js';

/** Options for {@link bearerTokenInterceptor}. */
export interface BearerTokenOptions {
  /** The token callers must present as `authorization: Bearer <token>`. */
  readonly token: string;
  /** Fully-qualified services that need the token; calls to any other service pass. */
  readonly services: readonly string[];
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** Compares in time independent of where the inputs differ (hashing first equalises lengths). */
function sameSecret(presented: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(presented), expected);
}

function presentedToken(metadata: Metadata): string | undefined {
  const [value] = metadata.get('authorization');
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer[ \t]+(.+)$/i.exec(value.trim());
  return match?.[1];
}

/**
 * Refuses calls to the protected services with UNAUTHENTICATED unless they carry the bearer
 * token. Health and reflection are not in `services`, so probes and grpcurl stay open.
 */
export function bearerTokenInterceptor(options: BearerTokenOptions): ServerInterceptor {
  const expected = digest(options.token);
  const prefixes = options.services.map((service) => `/${service}/`);
  return (methodDescriptor, call) => {
    if (!prefixes.some((prefix) => methodDescriptor.path.startsWith(prefix))) {
      return new ServerInterceptingCall(call);
    }
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const token = presentedToken(metadata);
        if (token !== undefined && sameSecret(token, expected)) {
          next(metadata);
          return;
        }
        call.sendStatus({
          code: Status.UNAUTHENTICATED,
          details:
            token === undefined
              ? 'missing authorization: Bearer <token> metadata'
              : 'invalid bearer token',
        });
      })
      .build();
    return new ServerInterceptingCall(
      call,
      new ResponderBuilder().withStart((next) => next(listener)).build(),
    );
  };
}
