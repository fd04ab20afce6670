/** Default of `REST_MAX_BODY_BYTES`: the largest body of a unary REST call, 1 MiB. */
export const DEFAULT_REST_MAX_BODY_BYTES = 1024 * 1024;
