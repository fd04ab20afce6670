import type * as http from 'node:http';
import { Metadata } from '@grpc/grpc-js';
import { invalidArgument } from './http-status';

/** Prefix of request headers forwarded as metadata, and of response metadata as headers. */
export const METADATA_HEADER_PREFIX = 'grpc-metadata-';

/** Request headers forwarded as metadata under their own name (W3C trace context, auth). */
const FORWARDED_HEADERS = ['authorization', 'traceparent', 'tracestate'] as const;

/**
 * The gRPC metadata of a REST call, as grpc-gateway builds it: `Authorization`, `traceparent`
 * and `tracestate` under their own names, every `Grpc-Metadata-<key>` header as `<key>`
 * (`-bin` keys base64-decoded). `authorization` overrides the header (browsers' `access_token`).
 */
export function requestMetadata(
  request: http.IncomingMessage,
  authorization: string | undefined,
): Metadata {
  const metadata = new Metadata();
  const headers = request.headers;
  for (const name of FORWARDED_HEADERS) {
    const value = name === 'authorization' ? authorization : headers[name];
    if (typeof value === 'string') metadata.set(name, value);
  }
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(METADATA_HEADER_PREFIX) || value === undefined) continue;
    const key = name.slice(METADATA_HEADER_PREFIX.length);
    if (key === '' || key.startsWith('grpc-') || key.startsWith(':')) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      try {
        if (key.endsWith('-bin')) metadata.add(key, Buffer.from(item, 'base64'));
        else metadata.add(key, item);
      } catch {
        throw invalidArgument(`header ${name}: not valid gRPC metadata`);
      }
    }
  }
  return metadata;
}

/** Response metadata as `Grpc-Metadata-<key>` headers (binary values base64). */
export function metadataHeaders(metadata: Metadata, into: Record<string, string | string[]>): void {
  for (const [key, values] of Object.entries(metadata.getMap())) {
    const text = typeof values === 'string' ? values : Buffer.from(values).toString('base64');
    into[`${METADATA_HEADER_PREFIX}${key}`] = text;
  }
}

const TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/**
 * The deadline (epoch ms) a `Grpc-Timeout` header sets, in gRPC's timeout format as grpc-gateway
 * reads it (`10S`, `500m`, `2M`: at most 8 digits and a unit of H, M, S, m, u, n); Infinity
 * without the header. A malformed value is INVALID_ARGUMENT.
 */
export function requestDeadline(header: string | string[] | undefined, now = Date.now()): number {
  if (header === undefined) return Infinity;
  const text = Array.isArray(header) ? header[0]! : header;
  const match = TIMEOUT.exec(text.trim());
  if (match === null) {
    throw invalidArgument(
      `header Grpc-Timeout: ${JSON.stringify(text)} is not a gRPC timeout (e.g. 10S, 500m)`,
    );
  }
  return now + Number(match[1]) * UNIT_MS[match[2]!]!;
}
