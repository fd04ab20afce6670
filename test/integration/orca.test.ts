import * as grpc from '@grpc/grpc-js';
import { DEFAULT_MIN_REPORT_INTERVAL_MS } from '../../src/grpc/orca';
import { orcaClient, type OrcaReport } from '../helpers/orca';
import { startTestServer, type TestServer } from '../helpers/server';

/** Collects reports from a StreamCoreMetrics stream, with their arrival times. */
function subscribe(address: string, intervalMs: number) {
  const client = orcaClient(address);
  const stream = client.StreamCoreMetrics({
    report_interval: { seconds: Math.floor(intervalMs / 1000), nanos: (intervalMs % 1000) * 1e6 },
  });
  const reports: { at: number; report: OrcaReport }[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  stream.on('data', (report: OrcaReport) => {
    reports.push({ at: Date.now(), report });
    for (const w of waiters.filter((w) => reports.length >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
  stream.on('error', () => undefined);
  return {
    reports,
    ended,
    /** Resolves once `count` reports have arrived in total. */
    reportsReceived: (count: number) =>
      reports.length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ count, resolve })),
    close: () => {
      stream.cancel();
      client.close();
    },
  };
}

function getFeature(server: TestServer, latitude: number): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) =>
    server.client.GetFeature({ latitude, longitude: 0 }, (error) => resolve(error)),
  );
}

describe('ORCA load reports (xds.service.orca.v3.OpenRcaService)', () => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each([
    ['with Prometheus metrics', 'true'],
    ['with METRICS=false (its own call counter)', 'false'],
  ])('streams CPU utilization, QPS and errors per second %s', async (_label, metrics) => {
    server = await startTestServer({ env: { METRICS: metrics } });
    const sub = subscribe(server.address, 1000);
    // Steady traffic: 10 OK calls and 5 INVALID_ARGUMENT calls per ~100 ms.
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      await Promise.all([
        ...Array.from({ length: 10 }, () => getFeature(server!, 0)),
        ...Array.from({ length: 5 }, () => getFeature(server!, 900_000_001)),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await sub.reportsReceived(2);
    sub.close();
    const last = sub.reports.at(-1)!.report;
    expect(last.rps_fractional).toBeGreaterThan(10);
    // A third of the calls failed: EPS is about a third of QPS (the windows are the same).
    expect(last.eps / last.rps_fractional).toBeGreaterThan(0.2);
    expect(last.eps / last.rps_fractional).toBeLessThan(0.45);
    expect(last.cpu_utilization).toBeGreaterThan(0);
    expect(last.cpu_utilization).toBeLessThanOrEqual(1.5);
    // grpc-js's weighted_round_robin reads application_utilization only.
    expect(last.application_utilization).toBe(last.cpu_utilization);
  });

  it('grants no report interval below the minimum', async () => {
    server = await startTestServer();
    const sub = subscribe(server.address, 10);
    await sub.reportsReceived(3);
    sub.close();
    // Arrival times carry delivery jitter (a late report makes the next gap look short), so the
    // mean gap is checked against the minimum, and each gap only against a quarter of it: the
    // 10 ms asked for would give gaps of ~10 ms.
    const { reports } = sub;
    const gaps = reports.slice(1).map((r, i) => r.at - reports[i]!.at);
    const mean = (reports.at(-1)!.at - reports[0]!.at) / gaps.length;
    expect(mean).toBeGreaterThanOrEqual(0.9 * DEFAULT_MIN_REPORT_INTERVAL_MS);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(DEFAULT_MIN_REPORT_INTERVAL_MS / 4);
  });

  it('caps a huge report interval instead of letting Node fire it every millisecond', async () => {
    server = await startTestServer();
    // Once a first sample exists (after 1 s), a new subscriber gets it at once.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const tenYearsMs = 10 * 365 * 24 * 3600 * 1000;
    const sub = subscribe(server.address, tenYearsMs);
    await sub.reportsReceived(1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    sub.close();
    expect(sub.reports).toHaveLength(1);
  });

  it('ends the streams (UNAVAILABLE, so clients subscribe again) on shutdown instead of holding it up', async () => {
    server = await startTestServer();
    const sub = subscribe(server.address, 1000);
    await sub.reportsReceived(1);
    const started = Date.now();
    await server.app.shutdown(10_000);
    server = undefined;
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await sub.ended).code).toBe(grpc.status.UNAVAILABLE);
  });

  it('is absent with ORCA=false (UNIMPLEMENTED, which grpc-js clients take as "no reports")', async () => {
    server = await startTestServer({ env: { ORCA: 'false' } });
    const sub = subscribe(server.address, 1000);
    expect((await sub.ended).code).toBe(grpc.status.UNIMPLEMENTED);
    sub.close();
  });
});
