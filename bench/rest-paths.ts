/** The REST gateway's request paths and response counting, for the benchmark's REST load. */
import type { Box, Point } from './protocol';

/** `GET /v1/features/{latitude}/{longitude}`: GetFeature. */
export function featurePath(point: Point): string {
  return `/v1/features/${point.latitude}/${point.longitude}`;
}

/** `GET /v1/features?lo.latitude=…&…`: ListFeatures over `box`, answered as NDJSON. */
export function boxPath(box: Box): string {
  const query = [
    `lo.latitude=${box.lo.latitude}`,
    `lo.longitude=${box.lo.longitude}`,
    `hi.latitude=${box.hi.latitude}`,
    `hi.longitude=${box.hi.longitude}`,
  ];
  return `/v1/features?${query.join('&')}`;
}

/** `paths` rotated to start at `offset`, so that load processes do not send one sequence. */
export function rotate<T>(items: readonly T[], offset: number): T[] {
  if (items.length === 0) return [];
  const start = ((offset % items.length) + items.length) % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

const RESULT_LINE = '{"result":';
const ERROR_LINE = '{"error":';

/**
 * An NDJSON ListFeatures body: its `{"result":…}` lines (the streamed features), and whether
 * it ended with an `{"error":…}` line (a stream that failed after it started).
 */
export function countNdjson(body: string): { items: number; failed: boolean } {
  let items = 0;
  let failed = false;
  let start = 0;
  while (start < body.length) {
    const end = body.indexOf('\n', start);
    const stop = end === -1 ? body.length : end;
    if (body.startsWith(RESULT_LINE, start)) items++;
    else if (body.startsWith(ERROR_LINE, start)) failed = true;
    start = stop + 1;
  }
  return { items, failed };
}

/**
 * Requests for a count-bounded REST slice lasting about `durationMs` at `callsPerSecond`
 * (measured in the slice before), and never fewer than one per connection.
 */
export function requestsFor(
  callsPerSecond: number,
  durationMs: number,
  connections: number,
): number {
  const expected = Number.isFinite(callsPerSecond) ? (callsPerSecond * durationMs) / 1000 : 0;
  return Math.max(connections, Math.round(expected));
}
