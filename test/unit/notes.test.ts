import type { NotesStore } from '../../src/routeguide/notes';
import { MemoryNotesStore } from '../../src/stores/memory-notes';

const at = (latitude: number, longitude = 0) => ({ latitude, longitude });
const note = (latitude: number, message: string) => ({ location: at(latitude), message });

describe('MemoryNotesStore', () => {
  it('returns the earlier notes at the same location, oldest first, then stores the new one', async () => {
    const store = new MemoryNotesStore();
    expect(await store.add(note(1, 'a'))).toEqual([]);
    expect(await store.add(note(2, 'x'))).toEqual([]);
    expect(await store.add(note(1, 'b'))).toEqual([note(1, 'a')]);
    expect(await store.add(note(1, 'c'))).toEqual([note(1, 'a'), note(1, 'b')]);
    expect(store.at(at(2))).toEqual([note(2, 'x')]);
    expect(store.size).toBe(4);
    expect(store.locationCount).toBe(2);
  });

  it('distinguishes locations by both coordinates', async () => {
    const store = new MemoryNotesStore();
    await store.add({ location: at(1, 2), message: 'a' });
    expect(await store.add({ location: at(2, 1), message: 'b' })).toEqual([]);
    expect(await store.add({ location: at(1, 2), message: 'c' })).toHaveLength(1);
  });

  it('returns copies that later adds do not change', async () => {
    const store = new MemoryNotesStore();
    await store.add(note(1, 'a'));
    const earlier = await store.add(note(1, 'b'));
    await store.add(note(1, 'c'));
    expect(earlier).toEqual([note(1, 'a')]);
  });

  it('caps each location, evicting its oldest note first', async () => {
    const store = new MemoryNotesStore({ maxPerLocation: 2 });
    await store.add(note(1, 'a'));
    await store.add(note(1, 'b'));
    await store.add(note(2, 'x'));
    expect(await store.add(note(1, 'c'))).toEqual([note(1, 'a'), note(1, 'b')]);
    expect(store.at(at(1))).toEqual([note(1, 'b'), note(1, 'c')]);
    expect(store.at(at(2))).toEqual([note(2, 'x')]);
    expect(store.size).toBe(3);
  });

  it('caps the total, evicting the globally oldest note first', async () => {
    const store = new MemoryNotesStore({ maxTotal: 3 });
    await store.add(note(1, 'a'));
    await store.add(note(2, 'b'));
    await store.add(note(1, 'c'));
    await store.add(note(3, 'd'));
    expect(store.size).toBe(3);
    expect(store.at(at(1))).toEqual([note(1, 'c')]);
    await store.add(note(3, 'e'));
    expect(store.at(at(2))).toEqual([]);
    expect(store.locationCount).toBe(2);
  });

  it('caps the total text, evicting oldest first but keeping the newest note', async () => {
    const store = new MemoryNotesStore({ maxTotalChars: 10 });
    await store.add(note(1, '12345'));
    await store.add(note(2, '12345'));
    await store.add(note(3, '1'));
    expect(store.at(at(1))).toEqual([]);
    expect(store.size).toBe(2);
    await store.add(note(4, 'x'.repeat(50)));
    expect(store.size).toBe(1);
    expect(store.at(at(4))).toHaveLength(1);
  });

  it('stays bounded under a flood at one location mixed with many locations', async () => {
    const store = new MemoryNotesStore({ maxPerLocation: 5, maxTotal: 100 });
    for (let i = 0; i < 10_000; i++) {
      await store.add(note(i % 7 === 0 ? 0 : i, `m${i}`));
      expect(store.size).toBeLessThanOrEqual(100);
    }
    expect(store.at(at(0)).length).toBeLessThanOrEqual(5);
    expect(store.locationCount).toBeLessThanOrEqual(100);
  });

  it('evicts in global order after many per-location evictions at one location', async () => {
    const store = new MemoryNotesStore({ maxPerLocation: 2, maxTotal: 3 });
    for (let i = 0; i < 1000; i++) await store.add(note(0, `m${i}`));
    expect(store.at(at(0))).toEqual([note(0, 'm998'), note(0, 'm999')]);
    await store.add(note(1, 'a'));
    expect(store.size).toBe(3);
    await store.add(note(2, 'b'));
    expect(store.at(at(0))).toEqual([note(0, 'm999')]);
    await store.add(note(3, 'c'));
    expect(store.at(at(0))).toEqual([]);
    await store.add(note(4, 'd'));
    expect(store.at(at(1))).toEqual([]);
    expect(store.size).toBe(3);
    expect(store.locationCount).toBe(3);
    expect(await store.add(note(0, 'again'))).toEqual([]);
  });

  it('fulfils the NotesStore contract: replay then store, size, close', async () => {
    const store: NotesStore = new MemoryNotesStore({ maxPerLocation: 2 });
    expect(await store.add(note(1, 'a'))).toEqual([]);
    expect(await store.add(note(1, 'b'))).toEqual([note(1, 'a')]);
    expect(await store.add(note(1, 'c'))).toEqual([note(1, 'a'), note(1, 'b')]);
    expect(await store.add(note(1, 'd'))).toEqual([note(1, 'b'), note(1, 'c')]);
    expect(store.size).toBe(3 - 1);
    await store.close();
  });

  it('keeps texts intact through arena compaction, in a fixed allocation', () => {
    // 200,000 notes of ~100 UTF-8 bytes through a store that keeps 50: ~20 MB written through
    // the 64 KiB arena, so it compacts in place hundreds of times and never has to grow.
    const store = new MemoryNotesStore({ maxTotal: 50, maxPerLocation: 3 });
    const text = (i: number) => `${i}:${'é'.repeat(i % 97)}`;
    const allocated = store.allocatedBytes;
    for (let i = 0; i < 200_000; i++) {
      const earlier = store.append(note(i % 20, text(i)));
      // The store holds the last 50 notes (each location has at most 3 of them, its cap), so
      // location i % 20 has notes i - 40 and i - 20.
      const expected = [i - 40, i - 20].filter((j) => j >= 0).map((j) => text(j));
      expect(earlier.map((n) => n.message)).toEqual(expected);
    }
    expect(store.size).toBe(50);
    expect(store.allocatedBytes).toBe(allocated);
  });

  it('holds 100,000 notes at 100,000 locations in a few MiB outside the heap', () => {
    const store = new MemoryNotesStore();
    for (let i = 0; i < 300_000; i++) store.append({ location: at(i, -i), message: `note ${i}` });
    expect(store.size).toBe(100_000);
    expect(store.locationCount).toBe(100_000);
    expect(store.at(at(299_999, -299_999))).toEqual([
      { location: at(299_999, -299_999), message: 'note 299999' },
    ]);
    expect(store.at(at(199_999, -199_999))).toEqual([]);
    // Records 32 B and location slots 20 B (≤ 50 % full) per note, plus ~11 B of text each.
    expect(store.allocatedBytes).toBeLessThan(16 * 2 ** 20);
  });

  it('keeps long messages as strings, outside the arena', () => {
    // Replays share them (test/reliability/chat-backpressure.test.ts measures what stalled
    // streams hold); the arena keeps only the short ones.
    const store = new MemoryNotesStore();
    const allocated = store.allocatedBytes;
    const long = 'x'.repeat(1_000_000);
    store.append(note(1, long));
    store.append(note(1, 'short'));
    expect(store.append(note(1, 'again')).map((n) => n.message)).toEqual([long, 'short']);
    expect(store.allocatedBytes).toBe(allocated);
    // Evicted with its note like any other.
    const small = new MemoryNotesStore({ maxTotal: 1 });
    small.append(note(1, long));
    expect(small.append(note(2, 'next'))).toEqual([]);
    expect(small.at(at(1))).toEqual([]);
  });

  it('keys locations by int32 coordinates', () => {
    const store = new MemoryNotesStore();
    expect(() => store.append({ location: { latitude: 0.5, longitude: 0 }, message: 'x' })).toThrow(
      RangeError,
    );
    expect(() =>
      store.append({ location: { latitude: 0, longitude: 2 ** 31 }, message: 'x' }),
    ).toThrow(RangeError);
  });

  it('rejects nonsensical caps', () => {
    expect(() => new MemoryNotesStore({ maxTotal: 0 })).toThrow(RangeError);
    expect(() => new MemoryNotesStore({ maxPerLocation: 1.5 })).toThrow(RangeError);
  });
});
