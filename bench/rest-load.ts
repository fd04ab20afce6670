/**
 * The REST load of a worker process: autocannon (a standard Node HTTP/1.1 load generator, in
 * the devDependencies so that `npm ci` brings it wherever the benchmark runs) with one request
 * in flight per keep-alive connection, like the gRPC load's closed loop.
 */
import autocannon from 'autocannon';
import type { LoadResult, RestLoadSpec } from './protocol';
import { countNdjson } from './rest-paths';

/** Runs one REST slice; resolves when every request has its response (or failed). */
export async function runRestLoad(spec: RestLoadSpec): Promise<LoadResult> {
  const result: LoadResult = { calls: 0, errors: 0, items: 0, latenciesUs: [], wallMs: 0 };
  const fail = (message: string): void => {
    result.errors++;
    result.firstError ??= message;
  };
  const onResponse = (status: number, body: string): void => {
    if (status !== 200) return fail(`HTTP ${status}: ${body.slice(0, 200)}`);
    const { items, failed } = spec.ndjson ? countNdjson(body) : { items: 1, failed: false };
    if (failed) return fail(`stream failed: ${body.slice(body.lastIndexOf('{"error"'), -1)}`);
    result.calls++;
    result.items += items;
  };
  const started = performance.now();
  const instance = autocannon({
    url: `http://127.0.0.1:${spec.port}`,
    connections: Math.min(spec.connections, spec.amount),
    amount: spec.amount,
    timeout: Math.ceil(spec.callTimeoutMs / 1000),
    // autocannon notices the last response at its next sample tick (default every second).
    sampleInt: 10,
    ...(spec.authorization === undefined ? {} : { headers: { authorization: spec.authorization } }),
    requests: spec.paths.map((path) => ({ path, onResponse })),
  });
  let last = started;
  instance.on('response', (_client, status, _bytes, ms) => {
    last = performance.now();
    if (status === 200) result.latenciesUs.push(Math.round(ms * 1000));
  });
  instance.on('reqError', (error) => fail(error.message));
  await instance;
  result.wallMs = last - started;
  return result;
}
