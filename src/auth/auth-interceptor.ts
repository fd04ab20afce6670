import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status as Status,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import {
  ANONYMOUS,
  AuthFailure,
  type AuthFailureKind,
  type Authenticator,
  type Caller,
} from './authenticator';
import { attachCaller } from './call-caller';

/** The gRPC status of each kind of refusal. */
export const AUTH_FAILURE_STATUS: Readonly<Record<AuthFailureKind, Status>> = Object.freeze({
  unauthenticated: Status.UNAUTHENTICATED,
  'permission-denied': Status.PERMISSION_DENIED,
  unavailable: Status.UNAVAILABLE,
});

/** The status a failed authentication ends a call with; anything but an AuthFailure is INTERNAL. */
export function authFailureStatus(error: unknown): { code: Status; details: string } {
  if (error instanceof AuthFailure) {
    return { code: AUTH_FAILURE_STATUS[error.kind], details: error.message };
  }
  return { code: Status.INTERNAL, details: 'authentication failed' };
}

/**
 * The gRPC face of an {@link Authenticator}: each call's metadata is checked before the handler
 * sees it; a refused call ends with the failure's status and never reaches the handler. The
 * caller goes on the metadata object the handler receives (see {@link attachCaller}).
 * `onError` hears faults of the authenticator itself (INTERNAL), `onRefused` every refusal.
 */
export function authInterceptor(
  authenticator: Authenticator,
  onError: (error: unknown) => void = () => {},
  onRefused: (grpcPath: string, failure: AuthFailure) => void = () => {},
): ServerInterceptor {
  return (methodDescriptor, call) => {
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const [value] = metadata.get('authorization');
        const refuse = (error: unknown): void => {
          if (error instanceof AuthFailure) onRefused(methodDescriptor.path, error);
          else onError(error);
          call.sendStatus(authFailureStatus(error));
        };
        const pass = (caller: Caller): void => {
          if (caller !== ANONYMOUS) attachCaller(metadata, caller);
          next(metadata);
        };
        try {
          const result = authenticator.authenticate({
            grpcPath: methodDescriptor.path,
            authorization: typeof value === 'string' ? value : undefined,
          });
          if (result instanceof Promise) result.then(pass, refuse);
          else pass(result);
        } catch (error) {
          refuse(error);
        }
      })
      .build();
    return new ServerInterceptingCall(
      call,
      new ResponderBuilder().withStart((next) => next(listener)).build(),
    );
  };
}
