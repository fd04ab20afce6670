import { Metadata, status as Status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import type { Logger } from '../observability/logging';
import { InvalidInputError } from '../routeguide/geo';
import { NotesUnavailableError } from '../routeguide/notes';

/** An RPC failure with a gRPC status; `cause` keeps the original error for logs. */
export class RpcError extends Error implements ServiceError {
  readonly metadata = new Metadata();
  constructor(
    readonly code: Status,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(details, options);
    this.name = 'RpcError';
  }
}

function hasGrpcCode(error: unknown): error is Error & { code: Status; details?: string } {
  if (!(error instanceof Error)) return false;
  const code: unknown = (error as Error & { code?: unknown }).code;
  return typeof code === 'number' && Status[code] !== undefined;
}

/**
 * Translates anything a handler threw into the status the caller receives (log lines name the
 * method and, when known, the caller's `subject`):
 * - invalid input → INVALID_ARGUMENT with the readable message (logged at debug level);
 * - a dependency that cannot be reached (the notes store) → UNAVAILABLE, not logged per call
 *   (the dependency logs its own connection changes once each);
 * - an error that already carries a gRPC status → that status;
 * - anything else is a fault of ours → logged with its cause, INTERNAL to the caller,
 *   without internal details.
 */
export function toServiceError(
  error: unknown,
  logger: Logger,
  method: string,
  subject?: string,
): RpcError {
  if (error instanceof RpcError) return error;
  const who = subject === undefined ? {} : { subject };
  if (error instanceof InvalidInputError) {
    logger.debug(
      { method, ...who, code: 'INVALID_ARGUMENT', details: error.message },
      'call rejected',
    );
    return new RpcError(Status.INVALID_ARGUMENT, error.message, { cause: error });
  }
  if (error instanceof NotesUnavailableError) {
    return new RpcError(Status.UNAVAILABLE, error.message, { cause: error });
  }
  if (hasGrpcCode(error)) {
    return new RpcError(error.code, error.details ?? error.message, { cause: error });
  }
  logger.error({ err: error, method, ...who }, 'handler failed');
  return new RpcError(Status.INTERNAL, 'internal error', { cause: error });
}

/** A status object for the server's `call.emit('error', …)` and `callback(…)` paths. */
export function toStatusObject(error: RpcError): Partial<StatusObject> {
  return { code: error.code, details: error.details, metadata: error.metadata };
}
