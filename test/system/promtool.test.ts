import { execFileSync, spawnSync } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import { getFeature, listFeatures } from '../helpers/calls';
import { ROOT } from '../helpers/deploy';
import { scrape } from '../helpers/ops';
import { startTestServer, type TestServer } from '../helpers/server';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

/** Prometheus's own checker (Debian package prometheus) on what we serve and ship. */
describe('promtool', () => {
  let server: TestServer | undefined;

  beforeAll(() => requireProgram(PROGRAMS.promtool));

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('check metrics passes on a scrape, apart from prom-client’s own nodejs_active_*_total gauges', async () => {
    server = await startTestServer();
    await getFeature(server.client, { latitude: 409146138, longitude: -746188906 });
    await expect(
      getFeature(server.client, { latitude: 900_000_001, longitude: 0 }),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await listFeatures(server.client, {
      lo: { latitude: 400_000_000, longitude: -750_000_000 },
      hi: { latitude: 420_000_000, longitude: -730_000_000 },
    });
    const { text } = await scrape(server.app.metricsPort!);
    const promtool = spawnSync('promtool', ['check', 'metrics'], {
      input: text,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(promtool.error).toBeUndefined();
    const findings = `${promtool.stdout}${promtool.stderr}`
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    const allowed =
      /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
    expect(findings.filter((line) => !allowed.test(line))).toEqual([]);
  });

  it('check config passes on deploy/prometheus.yml (the compose Prometheus)', () => {
    const out = execFileSync('promtool', ['check', 'config', 'deploy/prometheus.yml'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(out).toMatch(/SUCCESS/);
  });
});
