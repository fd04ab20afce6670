import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { getFeature } from '../helpers/calls';
import { servingPort, spawnServer, type ServerProcess } from '../helpers/process';

const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-process-'));

describe('the server process', () => {
  let server: ServerProcess | undefined;

  afterEach(() => {
    server?.kill();
    server = undefined;
  });

  it('loads the database, logs one start-up line, serves, and exits 0 on SIGTERM', async () => {
    server = spawnServer();
    const port = await servingPort(server);
    const started = server.logs.find((l) => l['msg'] === 'routeguide serving')!;
    expect(started).toMatchObject({ level: 'info', host: '127.0.0.1', features: 100 });
    expect(typeof started['loadMs']).toBe('number');

    const { proto } = loadRouteGuideProto();
    const client = new proto.routeguide.RouteGuide(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    );
    const feature = await getFeature(client, { latitude: 409146138, longitude: -746188906 });
    expect(feature.name).toBe('Berkshire Valley Management Area Trail, Jefferson, NJ, USA');
    client.close();

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
    // Every line arrives, in order, even though the process exits right after the last one.
    expect(server.logs.map((l) => l['msg'])).toEqual([
      'routeguide serving',
      'shutting down',
      'stopped',
    ]);
  });

  it.each([
    ['a missing file', null, /cannot be read \(ENOENT\)/],
    ['a file that is not JSON', '{"feature": [', /is not valid JSON/],
    [
      'a bad entry',
      JSON.stringify([
        { name: 'ok', location: { latitude: 1, longitude: 1 } },
        { name: 'bad', location: { latitude: 1, longitude: 1900000000 } },
      ]),
      /entry 1: location\.longitude must be an integer/,
    ],
  ])(
    'refuses to start on %s: one clear message, non-zero exit, never binds',
    async (_what, text, message) => {
      const file = path.join(dir, `${Math.random().toString(36).slice(2)}.json`);
      if (text !== null) writeFileSync(file, text);
      server = spawnServer({ FEATURES_FILE: file });
      const { code } = await server.exited;
      expect(code).toBe(1);
      expect(server.logs).toHaveLength(1);
      const [line] = server.logs;
      expect(line).toMatchObject({ level: 'fatal', file });
      expect(String(line!['msg'])).toContain(`features file ${file}: `);
      expect(String(line!['msg'])).toMatch(message);
      expect(server.logs.some((l) => l['msg'] === 'routeguide serving')).toBe(false);
      expect(server.stderr()).not.toMatch(/\n\s+at /);
    },
  );

  it('exits 2 with a message naming a bad variable', async () => {
    server = spawnServer({ PORT: 'fifty' });
    expect((await server.exited).code).toBe(2);
    expect(server.stderr()).toContain('PORT="fifty": must be an integer');
    expect(server.logs).toEqual([]);
  });
});
