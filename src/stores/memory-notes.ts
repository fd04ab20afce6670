import { hashPoint, type GeoPoint } from '../routeguide/geo';
import type { Note, NotesStore } from '../routeguide/notes';
import { assertIntegerOptions } from '../util/integer-options';
import {
  DEFAULT_NOTES_MAX_PER_LOCATION,
  DEFAULT_NOTES_MAX_TOTAL,
  DEFAULT_NOTES_MAX_TOTAL_CHARS,
} from './defaults';

/** Bounds on what a MemoryNotesStore keeps. */
export interface MemoryNotesStoreOptions {
  /** Most notes kept at one location; the oldest there is evicted first. Default 100. */
  maxPerLocation?: number;
  /** Most notes kept in total; the oldest anywhere is evicted first. Default 100000. */
  maxTotal?: number;
  /** Most UTF-16 code units of message text kept in total (≈ bytes of memory ÷ 2); oldest evicted first. Default 16 Mi. */
  maxTotalChars?: number;
}

const NONE = -1;

// A note's record: NOTE_FIELDS int32s in `notes`, at note id × NOTE_FIELDS.
const NOTE_FIELDS = 8;
const N_LAT = 0;
const N_LNG = 1;
/** The next newer note at the same location, or NONE. */
const N_NEXT_HERE = 2;
/** The next older / newer note overall (a doubly linked list), or NONE. A free record keeps the next free id in N_NEWER. */
const N_OLDER = 3;
const N_NEWER = 4;
/**
 * The message: its UTF-8 bytes at `arena[offset, offset + bytes)` (offset LARGE: the string is
 * in `large` instead), and its length in UTF-16 code units.
 */
const N_OFFSET = 5;
const N_BYTES = 6;
const N_CHARS = 7;

// A location's slot: LOC_FIELDS int32s in `locations`; a count of 0 marks an empty slot.
const LOC_FIELDS = 5;
const L_LAT = 0;
const L_LNG = 1;
const L_OLDEST = 2;
const L_NEWEST = 3;
const L_COUNT = 4;

/** N_OFFSET of a message kept as a string in `large`. */
const LARGE = -1;
/**
 * Messages up to this many UTF-16 code units go to the arena; longer ones stay JS strings.
 * A replay decodes arena messages into new strings, and a stream that stops reading holds its
 * replay (up to the per-location cap of notes) until it reads or ends: with this bound, what
 * 200 stalled streams can hold in copies is 200 × 100 × 512 B ≈ 10 MiB, while long messages are
 * shared by every replay that returns them, as strings are.
 */
const INLINE_MAX_CHARS = 256;

const INITIAL_NOTES = 1024;
const INITIAL_LOCATION_SLOTS = 2048;
const INITIAL_ARENA_BYTES = 64 * 1024;

/**
 * The RouteChat notes of this process, bounded in count and size, held off the JavaScript heap.
 *
 * 1M notes through RouteChat must grow the server by at most 64 MB. With one string per note
 * on the V8 heap, every note would outlive a few scavenges, so each one evicted would be
 * old-space garbage: V8 grows the heap to ~4× the live set before collecting it (+100 MiB over
 * 1M notes). Here nothing per note of usual size lives on the heap:
 * - `notes`: one record of eight int32s per note (location, links, message position), in a
 *   typed array grown by doubling, freed records reused through a free list;
 * - `locations`: an open-addressing hash table (linear probing, backward-shift deletion) from
 *   a location to its oldest and newest note and its count;
 * - `arena`: every message of up to {@link INLINE_MAX_CHARS} as UTF-8, in arrival order.
 *   Evicted messages leave holes that a compaction closes when the arena fills; because
 *   messages are appended and compaction keeps their order, offsets always grow along the
 *   global order, so compaction moves bytes down. Longer messages (rare, and few per MiB) stay
 *   strings in `large`, shared with the replays that return them.
 *
 * The global order is a doubly linked list, oldest first; each location's notes are a singly
 * linked list, oldest first. The globally oldest note is also the oldest at its own location,
 * so both caps evict from the front of a location's list: every operation is O(1) amortised,
 * plus the replay itself.
 *
 * Messages are kept as UTF-8, as protobuf carries them: a string with a lone surrogate (which
 * cannot arrive over gRPC) is replayed with U+FFFD in its place. The text budget counts UTF-16
 * code units (`message.length`).
 */
export class MemoryNotesStore implements NotesStore {
  private notes = new Int32Array(INITIAL_NOTES * NOTE_FIELDS);
  /** Note ids handed out so far; ids below it are live or on the free list. */
  private notesUsed = 0;
  private freeNote = NONE;
  private oldest = NONE;
  private newest = NONE;

  private locations = new Int32Array(INITIAL_LOCATION_SLOTS * LOC_FIELDS);
  private locationMask = INITIAL_LOCATION_SLOTS - 1;
  private locationsUsed = 0;

  private arena: Buffer = Buffer.allocUnsafeSlow(INITIAL_ARENA_BYTES);
  /** Messages longer than INLINE_MAX_CHARS, by note id. */
  private readonly large = new Map<number, string>();
  /** Where the next message goes: bytes from here on are free. */
  private arenaEnd = 0;
  /** Bytes of live messages (the rest below `arenaEnd` are holes). */
  private liveBytes = 0;

  private count = 0;
  private totalChars = 0;
  private readonly maxPerLocation: number;
  private readonly maxTotal: number;
  private readonly maxTotalChars: number;

  constructor(options: MemoryNotesStoreOptions = {}) {
    this.maxPerLocation = options.maxPerLocation ?? DEFAULT_NOTES_MAX_PER_LOCATION;
    this.maxTotal = options.maxTotal ?? DEFAULT_NOTES_MAX_TOTAL;
    this.maxTotalChars = options.maxTotalChars ?? DEFAULT_NOTES_MAX_TOTAL_CHARS;
    assertIntegerOptions(
      {
        maxPerLocation: this.maxPerLocation,
        maxTotal: this.maxTotal,
        maxTotalChars: this.maxTotalChars,
      },
      1,
    );
  }

  /** Number of notes held. */
  get size(): number {
    return this.count;
  }

  /** Number of distinct locations with notes. */
  get locationCount(): number {
    return this.locationsUsed;
  }

  /** Bytes this store has allocated outside the JavaScript heap (records, table, arena). */
  get allocatedBytes(): number {
    return this.notes.byteLength + this.locations.byteLength + this.arena.byteLength;
  }

  /** Notes held at a location, oldest first (a copy). */
  at(location: GeoPoint): Note[] {
    checkLocation(location);
    const slot = this.findSlot(location.latitude, location.longitude);
    return this.replay(location, slot);
  }

  /** {@link append}, as the asynchronous {@link NotesStore} contract. */
  add(note: Note): Promise<Note[]> {
    return Promise.resolve(this.append(note));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * Stores a note and returns the notes that were at its location before it, oldest first:
   * exactly what RouteChat sends back for this note.
   */
  append(note: Note): Note[] {
    const { location, message } = note;
    checkLocation(location);
    const { latitude, longitude } = location;
    // Grow first, so that the slot found below stays valid.
    if ((this.locationsUsed + 1) * 2 > this.locationMask + 1) this.growLocations();
    let slot = this.findSlot(latitude, longitude);
    const earlier = this.replay(location, slot);

    let offset = LARGE;
    let bytes = 0;
    if (message.length <= INLINE_MAX_CHARS) {
      bytes = Buffer.byteLength(message, 'utf8');
      this.reserveArena(bytes);
      offset = this.arenaEnd;
      this.arena.write(message, offset, bytes, 'utf8');
      this.arenaEnd += bytes;
      this.liveBytes += bytes;
    }

    const id = this.allocateNote();
    if (offset === LARGE) this.large.set(id, message);
    const notes = this.notes;
    const n = id * NOTE_FIELDS;
    notes[n + N_LAT] = latitude;
    notes[n + N_LNG] = longitude;
    notes[n + N_NEXT_HERE] = NONE;
    notes[n + N_OLDER] = this.newest;
    notes[n + N_NEWER] = NONE;
    notes[n + N_OFFSET] = offset;
    notes[n + N_BYTES] = bytes;
    notes[n + N_CHARS] = message.length;
    if (this.newest === NONE) this.oldest = id;
    else notes[this.newest * NOTE_FIELDS + N_NEWER] = id;
    this.newest = id;

    const locations = this.locations;
    const isNew = slot < 0;
    if (isNew) slot = ~slot;
    const l = slot * LOC_FIELDS;
    if (isNew) {
      locations[l + L_LAT] = latitude;
      locations[l + L_LNG] = longitude;
      locations[l + L_OLDEST] = id;
      locations[l + L_COUNT] = 0;
      this.locationsUsed++;
    } else {
      notes[locations[l + L_NEWEST]! * NOTE_FIELDS + N_NEXT_HERE] = id;
    }
    locations[l + L_NEWEST] = id;
    const atLocation = ++locations[l + L_COUNT]!;
    this.count++;
    this.totalChars += message.length;

    if (atLocation > this.maxPerLocation) this.removeOldestAt(slot);
    // A single note larger than the whole text budget is kept alone rather than rejected.
    while (this.count > this.maxTotal || (this.totalChars > this.maxTotalChars && this.count > 1)) {
      const oldest = this.oldest * NOTE_FIELDS;
      this.removeOldestAt(this.findSlot(notes[oldest + N_LAT]!, notes[oldest + N_LNG]!));
    }
    return earlier;
  }

  /**
   * The slot of a location: its index when present, else `~index` of the empty slot where it
   * would go.
   */
  private findSlot(latitude: number, longitude: number): number {
    const locations = this.locations;
    const mask = this.locationMask;
    for (let slot = hashPoint(latitude, longitude) & mask; ; slot = (slot + 1) & mask) {
      const l = slot * LOC_FIELDS;
      if (locations[l + L_COUNT] === 0) return ~slot;
      if (locations[l + L_LAT] === latitude && locations[l + L_LNG] === longitude) return slot;
    }
  }

  /** The notes at a location slot (or none for `~index`), oldest first, sharing one location copy. */
  private replay(location: GeoPoint, slot: number): Note[] {
    if (slot < 0) return [];
    const notes = this.notes;
    const where = { latitude: location.latitude, longitude: location.longitude };
    const replay: Note[] = [];
    for (let id = this.locations[slot * LOC_FIELDS + L_OLDEST]!; id !== NONE;) {
      const n = id * NOTE_FIELDS;
      const offset = notes[n + N_OFFSET]!;
      replay.push({
        location: where,
        message:
          offset === LARGE
            ? this.large.get(id)!
            : this.arena.toString('utf8', offset, offset + notes[n + N_BYTES]!),
      });
      id = notes[n + N_NEXT_HERE]!;
    }
    return replay;
  }

  /** Removes the oldest note at an occupied location slot, and the slot when it empties. */
  private removeOldestAt(slot: number): void {
    const notes = this.notes;
    const locations = this.locations;
    const l = slot * LOC_FIELDS;
    const id = locations[l + L_OLDEST]!;
    const n = id * NOTE_FIELDS;
    if (--locations[l + L_COUNT]! === 0) {
      this.deleteSlot(slot);
      this.locationsUsed--;
    } else {
      locations[l + L_OLDEST] = notes[n + N_NEXT_HERE]!;
    }

    const older = notes[n + N_OLDER]!;
    const newer = notes[n + N_NEWER]!;
    if (older === NONE) this.oldest = newer;
    else notes[older * NOTE_FIELDS + N_NEWER] = newer;
    if (newer === NONE) this.newest = older;
    else notes[newer * NOTE_FIELDS + N_OLDER] = older;

    this.liveBytes -= notes[n + N_BYTES]!;
    if (notes[n + N_OFFSET] === LARGE) this.large.delete(id);
    this.totalChars -= notes[n + N_CHARS]!;
    this.count--;
    notes[n + N_NEWER] = this.freeNote;
    this.freeNote = id;
  }

  /** Empties a slot, shifting back later entries of its probe run so lookups need no tombstones. */
  private deleteSlot(slot: number): void {
    const locations = this.locations;
    const mask = this.locationMask;
    let hole = slot;
    for (let next = (hole + 1) & mask; ; next = (next + 1) & mask) {
      const l = next * LOC_FIELDS;
      if (locations[l + L_COUNT] === 0) break;
      const home = hashPoint(locations[l + L_LAT]!, locations[l + L_LNG]!) & mask;
      // The entry may move to the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      locations.copyWithin(hole * LOC_FIELDS, l, l + LOC_FIELDS);
      hole = next;
    }
    locations[hole * LOC_FIELDS + L_COUNT] = 0;
  }

  private growLocations(): void {
    const old = this.locations;
    const slots = (this.locationMask + 1) * 2;
    this.locations = new Int32Array(slots * LOC_FIELDS);
    this.locationMask = slots - 1;
    for (let l = 0; l < old.length; l += LOC_FIELDS) {
      if (old[l + L_COUNT] === 0) continue;
      const slot = ~this.findSlot(old[l + L_LAT]!, old[l + L_LNG]!);
      this.locations.set(old.subarray(l, l + LOC_FIELDS), slot * LOC_FIELDS);
    }
  }

  private allocateNote(): number {
    if (this.freeNote !== NONE) {
      const id = this.freeNote;
      this.freeNote = this.notes[id * NOTE_FIELDS + N_NEWER]!;
      return id;
    }
    if (this.notesUsed * NOTE_FIELDS === this.notes.length) {
      const grown = new Int32Array(this.notes.length * 2);
      grown.set(this.notes);
      this.notes = grown;
    }
    return this.notesUsed++;
  }

  /**
   * Makes room for `bytes` more at `arenaEnd`: compacts when the live messages fill at most
   * half the arena, else moves them to one twice as large (or more, for a huge message).
   */
  private reserveArena(bytes: number): void {
    if (this.arenaEnd + bytes <= this.arena.length) return;
    const needed = this.liveBytes + bytes;
    if (needed * 2 <= this.arena.length) {
      this.compactInto(this.arena);
      return;
    }
    let size = this.arena.length * 2;
    while (size < needed * 2) size *= 2;
    this.compactInto(Buffer.allocUnsafeSlow(size));
  }

  /** Copies the live messages, oldest first, to the start of `target` (which may be the arena). */
  private compactInto(target: Buffer): void {
    const notes = this.notes;
    let end = 0;
    for (let id = this.oldest; id !== NONE; id = notes[id * NOTE_FIELDS + N_NEWER]!) {
      const n = id * NOTE_FIELDS;
      const offset = notes[n + N_OFFSET]!;
      if (offset === LARGE) continue;
      const bytes = notes[n + N_BYTES]!;
      // Offsets grow along the global order, so within one buffer bytes only move down.
      if (target !== this.arena || offset !== end)
        this.arena.copy(target, end, offset, offset + bytes);
      notes[n + N_OFFSET] = end;
      end += bytes;
    }
    this.arena = target;
    this.arenaEnd = end;
  }
}

/** The store keys locations by int32 coordinates (what RouteChat validates points to). */
function checkLocation(location: GeoPoint): void {
  const { latitude, longitude } = location;
  if ((latitude | 0) !== latitude || (longitude | 0) !== longitude) {
    throw new RangeError(
      `note location must have int32 coordinates, got ${latitude}, ${longitude}`,
    );
  }
}
