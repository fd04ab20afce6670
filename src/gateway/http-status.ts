import { status as Status } from '@grpc/grpc-js';

/**
 * grpc-gateway's gRPC → HTTP status table (runtime.HTTPStatusFromCode): what a REST caller sees
 * for each gRPC status code. 499 is nginx's "client closed request".
 */
const HTTP_STATUS: Readonly<Record<number, number>> = Object.freeze({
  [Status.OK]: 200,
  [Status.CANCELLED]: 499,
  [Status.UNKNOWN]: 500,
  [Status.INVALID_ARGUMENT]: 400,
  [Status.DEADLINE_EXCEEDED]: 504,
  [Status.NOT_FOUND]: 404,
  [Status.ALREADY_EXISTS]: 409,
  [Status.PERMISSION_DENIED]: 403,
  [Status.RESOURCE_EXHAUSTED]: 429,
  [Status.FAILED_PRECONDITION]: 400,
  [Status.ABORTED]: 409,
  [Status.OUT_OF_RANGE]: 400,
  [Status.UNIMPLEMENTED]: 501,
  [Status.INTERNAL]: 500,
  [Status.UNAVAILABLE]: 503,
  [Status.DATA_LOSS]: 500,
  [Status.UNAUTHENTICATED]: 401,
});

/** The HTTP status of a gRPC status code; unknown codes are 500. */
export function httpStatusOf(code: number): number {
  return HTTP_STATUS[code] ?? 500;
}

/** A `google.rpc.Status` as JSON: what every REST error body (and stream error) carries. */
export interface StatusJson {
  readonly code: number;
  readonly message: string;
  readonly details: readonly unknown[];
}

/** The JSON body of a failed call. */
export function statusJson(code: number, message: string): StatusJson {
  return { code, message, details: [] };
}

/**
 * A call refused before it reached a handler: bad input, unknown route, failed authentication.
 * `headers` go out with the response (`Allow`, `WWW-Authenticate`, `Retry-After`).
 */
export class GatewayError extends Error {
  constructor(
    readonly code: Status,
    message: string,
    readonly httpStatus: number = httpStatusOf(code),
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

/** Bad input from the HTTP request: INVALID_ARGUMENT, 400, naming the field. */
export function invalidArgument(message: string): GatewayError {
  return new GatewayError(Status.INVALID_ARGUMENT, message);
}
