import { NotesStore } from '../../src/routeguide/notes';

const at = (latitude: number, longitude = 0) => ({ latitude, longitude });
const note = (latitude: number, message: string) => ({ location: at(latitude), message });

describe('NotesStore', () => {
  it('returns the earlier notes at the same location, oldest first, then stores the new one', () => {
    const store = new NotesStore();
    expect(store.add(note(1, 'a'))).toEqual([]);
    expect(store.add(note(2, 'x'))).toEqual([]);
    expect(store.add(note(1, 'b'))).toEqual([note(1, 'a')]);
    expect(store.add(note(1, 'c'))).toEqual([note(1, 'a'), note(1, 'b')]);
    expect(store.at(at(2))).toEqual([note(2, 'x')]);
    expect(store.size).toBe(4);
    expect(store.locationCount).toBe(2);
  });

  it('distinguishes locations by both coordinates', () => {
    const store = new NotesStore();
    store.add({ location: at(1, 2), message: 'a' });
    expect(store.add({ location: at(2, 1), message: 'b' })).toEqual([]);
    expect(store.add({ location: at(1, 2), message: 'c' })).toHaveLength(1);
  });

  it('returns copies that later adds do not change', () => {
    const store = new NotesStore();
    store.add(note(1, 'a'));
    const earlier = store.add(note(1, 'b'));
    store.add(note(1, 'c'));
    expect(earlier).toEqual([note(1, 'a')]);
  });

  it('caps each location, evicting its oldest note first', () => {
    const store = new NotesStore({ maxPerLocation: 2 });
    store.add(note(1, 'a'));
    store.add(note(1, 'b'));
    store.add(note(2, 'x'));
    expect(store.add(note(1, 'c'))).toEqual([note(1, 'a'), note(1, 'b')]);
    expect(store.at(at(1))).toEqual([note(1, 'b'), note(1, 'c')]);
    expect(store.at(at(2))).toEqual([note(2, 'x')]);
    expect(store.size).toBe(3);
  });

  it('caps the total, evicting the globally oldest note first', () => {
    const store = new NotesStore({ maxTotal: 3 });
    store.add(note(1, 'a'));
    store.add(note(2, 'b'));
    store.add(note(1, 'c'));
    store.add(note(3, 'd'));
    expect(store.size).toBe(3);
    expect(store.at(at(1))).toEqual([note(1, 'c')]);
    store.add(note(3, 'e'));
    expect(store.at(at(2))).toEqual([]);
    expect(store.locationCount).toBe(2);
  });

  it('caps the total text, evicting oldest first but keeping the newest note', () => {
    const store = new NotesStore({ maxTotalChars: 10 });
    store.add(note(1, '12345'));
    store.add(note(2, '12345'));
    store.add(note(3, '1'));
    expect(store.at(at(1))).toEqual([]);
    expect(store.size).toBe(2);
    store.add(note(4, 'x'.repeat(50)));
    expect(store.size).toBe(1);
    expect(store.at(at(4))).toHaveLength(1);
  });

  it('stays bounded under a flood at one location mixed with many locations', () => {
    const store = new NotesStore({ maxPerLocation: 5, maxTotal: 100 });
    for (let i = 0; i < 10_000; i++) {
      store.add(note(i % 7 === 0 ? 0 : i, `m${i}`));
      expect(store.size).toBeLessThanOrEqual(100);
    }
    expect(store.at(at(0)).length).toBeLessThanOrEqual(5);
    expect(store.locationCount).toBeLessThanOrEqual(100);
  });

  it('rejects nonsensical caps', () => {
    expect(() => new NotesStore({ maxTotal: 0 })).toThrow(RangeError);
    expect(() => new NotesStore({ maxPerLocation: 1.5 })).toThrow(RangeError);
  });
});
