import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { eventually, getFeature, listFeatures } from '../helpers/calls';
import { syntheticFeatures } from '../helpers/features';
import { check, healthClient, scrape } from '../helpers/ops';
import { listFeaturesRequest, openRawStream } from '../helpers/raw-grpc';
import { loadFeatureDatabase } from '../../src/routeguide/features';
import { startTestServer, type TestServer } from '../helpers/server';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const FEATURES = 100_000;
const LIMIT = 10_000_000;
const SOFT = 6_500_000; // 65%: over the 60% mark
const HARD = 8_000_000; // 80%: over the 75% mark

/** ListFeatures of latitudes 0..hi (longitude 0), as a raw request body. */
function boxRequest(hi: number): Buffer {
  return listFeaturesRequest({ latitude: 0, longitude: 0 }, { latitude: hi, longitude: 0 });
}

/** A ListFeatures whose client never reads: the server soon holds what it cannot send. */
function stalledList(session: http2.ClientHttp2Session, hi: number) {
  const { stream } = openRawStream(session, '/routeguide.RouteGuide/ListFeatures', boxRequest(hi));
  stream.pause();
  const closed = new Promise<number>((resolve) =>
    stream.on('close', () => resolve(stream.rstCode ?? 0)),
  );
  return { stream, closed };
}

describe('memory budget', () => {
  let server: TestServer | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses new streams above the soft mark and sheds the heaviest stalled stream first above the hard mark; a reading stream and GetFeature go on', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'memory-budget-'));
    const file = path.join(dir, 'features.json');
    writeFileSync(
      file,
      JSON.stringify(syntheticFeatures(FEATURES, (i) => `${'x'.repeat(40)}${i}`)),
    );
    let rss = 1_000_000;
    server = await startTestServer({
      env: { MEMORY_LIMIT_BYTES: String(LIMIT), FEATURES_FILE: file },
      features: loadFeatureDatabase(file),
      rss: () => rss,
    });
    const { app, client, address } = server;
    const session = http2.connect(`http://${address}`);
    session.on('error', () => undefined);
    try {
      // ~60 bytes a feature: the light stream's response (~120 KB) overflows the client's 64 KiB
      // window by far less than the heavy one's (~6 MB).
      const heavy = stalledList(session, FEATURES - 1);
      const light = stalledList(session, 2_000);
      const shedOrder: string[] = [];
      void heavy.closed.then(() => shedOrder.push('heavy'));
      void light.closed.then(() => shedOrder.push('light'));
      await eventually(() => app.admission.active === 2, 10_000, 'two stalled streams');
      // A reader that keeps up (one message per event-loop turn): it makes progress at every
      // memory sample, so it is never a candidate for shedding.
      const reading = client.ListFeatures({
        lo: { latitude: 0, longitude: 0 },
        hi: { latitude: FEATURES - 1, longitude: 0 },
      });
      let read = 0;
      reading.on('data', () => {
        read++;
        reading.pause();
        setImmediate(() => reading.resume());
      });
      const readingEnded = new Promise<void>((resolve, reject) => {
        reading.on('end', resolve);
        reading.on('error', reject);
      });
      readingEnded.catch(() => undefined);
      // Two samples apart, so every stream has had its chance to stall (or move).
      await eventually(() => read > 1000, 10_000, 'the reader reading');
      await new Promise((resolve) => setTimeout(resolve, 450));

      rss = SOFT;
      await eventually(() => app.admission.memory!.pressure === 'soft', 5000, 'soft pressure');
      await expect(
        listFeatures(client, {
          lo: { latitude: 0, longitude: 0 },
          hi: { latitude: 10, longitude: 0 },
        }),
      ).rejects.toMatchObject({
        code: grpc.status.UNAVAILABLE,
        details: expect.stringMatching(/memory/),
      });
      expect((await getFeature(client, { latitude: 5, longitude: 0 })).name).toMatch(/^x+5$/);
      const health = healthClient(address);
      expect(await check(health, '')).toBe('SERVING');
      health.close();
      expect(app.admission.shedTotal).toBe(0);

      rss = HARD;
      await eventually(() => app.admission.shedTotal >= 1, 5000, 'a stream shed');
      rss = SOFT;
      app.admission.memory!.sample();
      expect(await heavy.closed).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      expect(shedOrder[0]).toBe('heavy');
      expect(app.admission.shedTotal).toBeLessThanOrEqual(2);

      // Load reports carry the pressure: memory used 65% of the budget, CPU far less.
      app.orca!.sample();
      await new Promise((resolve) => setTimeout(resolve, 20));
      app.orca!.sample();
      expect(app.orca!.report.mem_utilization).toBeCloseTo(SOFT / LIMIT, 5);
      expect(app.orca!.report.application_utilization).toBeGreaterThanOrEqual(SOFT / LIMIT);

      const m = await scrape(app.metricsPort!);
      expect(m.value('routeguide_calls_refused_total', { reason: 'memory' })).toBe(1);
      expect(m.value('routeguide_streams_shed_total')).toBe(app.admission.shedTotal);
      expect(m.value('routeguide_memory_budget_bytes')).toBe(LIMIT);
      expect(m.value('routeguide_memory_budget_used_ratio')).toBeCloseTo(0.65, 5);
      expect(
        m.value('grpc_server_handled_total', {
          grpc_method: 'ListFeatures',
          grpc_code: 'ResourceExhausted',
        }),
      ).toBe(app.admission.shedTotal);

      // The reader survives to the end, with every feature.
      rss = 1_000_000;
      await readingEnded;
      expect(read).toBe(FEATURES);
      light.stream.close();
    } finally {
      session.destroy();
    }
  });
});
