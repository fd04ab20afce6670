import { createLogger } from '../../src/observability/logging';
import { NotesUnavailableError } from '../../src/routeguide/notes';
import { RedisNotesStore, redactRedisUrl } from '../../src/stores/redis-notes';
import { capturingLogger } from '../helpers/server';
import { freePort } from '../helpers/redis-server';

// Node only: what the Redis store does when no Redis is there (a real Redis: test/system/).

/**
 * `notes` adds in a row all fail at once (`unreachable`, under 500 ms each, the readable
 * message), the store stays disconnected, and exactly one state line was logged, without the
 * password `hunter2`. Returns the logged state lines.
 */
async function expectFailsFastWhileUnreachable(
  store: RedisNotesStore,
  lines: () => Record<string, unknown>[],
  notes: number,
): Promise<Record<string, unknown>[]> {
  for (let i = 0; i < notes; i++) {
    const started = Date.now();
    const error = await store.add({ location: { latitude: 1, longitude: 2 }, message: 'x' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NotesUnavailableError);
    expect((error as NotesUnavailableError).kind).toBe('unreachable');
    expect((error as NotesUnavailableError).message).toBe('notes store unavailable');
    expect(Date.now() - started).toBeLessThan(500);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  expect(store.connected).toBe(false);
  const logged = lines().filter((line) => String(line['msg']).startsWith('notes store'));
  expect(logged.map((line) => line['msg'])).toEqual(['notes store unreachable']);
  expect(JSON.stringify(logged)).not.toContain('hunter2');
  return logged;
}

describe('RedisNotesStore without a Redis', () => {
  it('redacts the password of a URL for logs', () => {
    expect(redactRedisUrl('redis://user:hunter2@cache:6379/0')).toBe(
      'redis://user:***@cache:6379/0',
    );
    expect(redactRedisUrl('rediss://:hunter2@cache:6380')).toBe('rediss://:***@cache:6380');
    expect(redactRedisUrl('redis://cache:6379')).toBe('redis://cache:6379');
  });

  it('lays keys out as <prefix>notes:<lat>,<lng>', async () => {
    const store = new RedisNotesStore({
      url: `redis://127.0.0.1:${await freePort()}`,
      keyPrefix: 'p:',
      logger: createLogger('silent'),
    });
    expect(store.keyOf({ latitude: -1, longitude: 409146138 })).toBe('p:notes:-1,409146138');
    await store.close();
  });

  it('fails every note at once while unreachable, logs it once, and closes cleanly', async () => {
    const { logger, lines } = capturingLogger();
    const port = await freePort();
    const store = new RedisNotesStore({
      url: `redis://user:hunter2@127.0.0.1:${port}/0`,
      logger,
    });
    const logged = await expectFailsFastWhileUnreachable(store, lines, 20);
    expect(logged[0]!['redis']).toBe(`redis://user:***@127.0.0.1:${port}/0`);
    await store.close();
  });

  it('cluster mode: fails every note at once while no node answers, logs it once, closes cleanly', async () => {
    const { logger, lines } = capturingLogger();
    const port = await freePort();
    const store = new RedisNotesStore({
      url: `redis://user:hunter2@127.0.0.1:${port}`,
      cluster: true,
      logger,
    });
    await expectFailsFastWhileUnreachable(store, lines, 10);
    await store.close();
  });
});
