import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { syntheticFeatures } from '../helpers/features';
import { spawnServer, type ServerProcess } from '../helpers/process';

/**
 * The signal handlers are in place before the database loads and the port binds: a SIGTERM or
 * SIGINT while a large database is still loading ends the process cleanly (exit 0, a log line
 * saying so, never serving), rather than killing it by the signal.
 */
describe('a signal during start-up', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'routeguide-startup-'));
  const file = path.join(dir, 'features.json');
  let server: ServerProcess | undefined;

  beforeAll(() => {
    // Large enough that loading takes a while (a few hundred ms), small enough to write fast.
    writeFileSync(file, JSON.stringify(syntheticFeatures(400_000, (i) => `f${i}`, true)));
  });

  afterEach(() => {
    server?.kill();
    server = undefined;
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['SIGTERM', 'SIGINT'] as const)('%s while the database loads exits 0', async (signal) => {
    server = spawnServer({ FEATURES_FILE: file, LOG_LEVEL: 'debug' });
    await server.waitForLog((l) => l['msg'] === 'loading features', 20_000);
    server.child.kill(signal);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    const messages = server.logs.map((l) => l['msg']);
    expect(messages).toEqual(['loading features', 'signal during start-up: exiting']);
    expect(server.logs[1]).toMatchObject({ signal });
  });
});
