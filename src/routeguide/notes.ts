import type { GeoPoint } from './geo';

/** A message left at a point. */
export interface Note {
  readonly location: GeoPoint;
  readonly message: string;
}

/**
 * Where RouteChat keeps its notes. Implementations: {@link MemoryNotesStore} (this process only,
 * the default) and the Redis store in `src/stores/` (shared by every replica).
 *
 * `add` is the whole RouteChat contract for one note: atomically, it returns the notes stored
 * at the note's location before it (oldest first, from any caller), then stores it. A store
 * that cannot reach its backend rejects with {@link NotesUnavailableError}.
 */
export interface NotesStore {
  /** Stores a note; resolves with the earlier notes at its location, oldest first. */
  add(note: Note): Promise<Note[]>;
  /** Notes held, when the store can tell cheaply (the in-memory store); undefined otherwise. */
  readonly size: number | undefined;
  /** Releases connections and timers; the store is unusable afterwards. */
  close(): Promise<void>;
}

/**
 * Why a store failed: not connected (`unreachable`), connection lost with the operation in
 * flight (`disconnected`), no answer in time (`timeout`), or an error answer (`error`).
 */
export type NotesUnavailableKind = 'unreachable' | 'disconnected' | 'timeout' | 'error';

/** The store's backend failed the operation: RouteChat answers UNAVAILABLE. */
export class NotesUnavailableError extends Error {
  readonly kind: NotesUnavailableKind;
  constructor(options: { kind: NotesUnavailableKind; cause?: unknown }) {
    super('notes store unavailable', { cause: options.cause });
    this.name = 'NotesUnavailableError';
    this.kind = options.kind;
  }
}

/** Bounds on what a MemoryNotesStore keeps. */
export interface NotesStoreOptions {
  /** Most notes kept at one location; the oldest there is evicted first. Default 100. */
  maxPerLocation?: number;
  /** Most notes kept in total; the oldest anywhere is evicted first. Default 100000. */
  maxTotal?: number;
  /** Most UTF-16 code units of message text kept in total (≈ bytes of memory ÷ 2); oldest evicted first. Default 16 Mi. */
  maxTotalChars?: number;
}

export const DEFAULT_NOTES_MAX_PER_LOCATION = 100;
export const DEFAULT_NOTES_MAX_TOTAL = 100_000;
export const DEFAULT_NOTES_MAX_TOTAL_CHARS = 16 * 1024 * 1024;

function locationKey(location: GeoPoint): string {
  return `${location.latitude},${location.longitude}`;
}

/**
 * The RouteChat notes of this process, bounded in count and size.
 *
 * Every note is in two orders at once: `byLocation` (oldest first per location, what a chat
 * replays) and `all` (oldest first overall, what the global caps evict). `all` is a Set of the
 * stored note objects, whose insertion order gives O(1) oldest-first eviction and deletion.
 */
export class MemoryNotesStore implements NotesStore {
  private readonly byLocation = new Map<string, Note[]>();
  private readonly all = new Set<Note>();
  private totalChars = 0;
  private readonly maxPerLocation: number;
  private readonly maxTotal: number;
  private readonly maxTotalChars: number;

  constructor(options: NotesStoreOptions = {}) {
    this.maxPerLocation = options.maxPerLocation ?? DEFAULT_NOTES_MAX_PER_LOCATION;
    this.maxTotal = options.maxTotal ?? DEFAULT_NOTES_MAX_TOTAL;
    this.maxTotalChars = options.maxTotalChars ?? DEFAULT_NOTES_MAX_TOTAL_CHARS;
    for (const [name, value] of Object.entries({
      maxPerLocation: this.maxPerLocation,
      maxTotal: this.maxTotal,
      maxTotalChars: this.maxTotalChars,
    })) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`${name} must be a positive integer, got ${value}`);
      }
    }
  }

  /** Number of notes held. */
  get size(): number {
    return this.all.size;
  }

  /** Number of distinct locations with notes. */
  get locationCount(): number {
    return this.byLocation.size;
  }

  /** Notes held at a location, oldest first (a copy). */
  at(location: GeoPoint): Note[] {
    return [...(this.byLocation.get(locationKey(location)) ?? [])];
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
    const key = locationKey(note.location);
    let here = this.byLocation.get(key);
    const earlier: Note[] = here === undefined ? [] : here.slice();
    const stored: Note = {
      location: { latitude: note.location.latitude, longitude: note.location.longitude },
      message: note.message,
    };
    if (here === undefined) {
      // A one-element literal: `[]` then push() would reserve 17 slots (~150 bytes) at every
      // location, and most locations hold a single note.
      here = [stored];
      this.byLocation.set(key, here);
    } else {
      here.push(stored);
    }
    this.all.add(stored);
    this.totalChars += stored.message.length;

    while (here.length > this.maxPerLocation) this.remove(here[0]!);
    // A single note larger than the whole text budget is kept alone rather than rejected.
    while (
      this.all.size > this.maxTotal ||
      (this.totalChars > this.maxTotalChars && this.all.size > 1)
    ) {
      this.remove(this.all.values().next().value as Note);
    }
    return earlier;
  }

  /** Removes a note that is the oldest at its location. */
  private remove(note: Note): void {
    const key = locationKey(note.location);
    const here = this.byLocation.get(key);
    // The globally oldest note is also the oldest at its own location, so it is always here[0].
    here?.shift();
    if (here !== undefined && here.length === 0) this.byLocation.delete(key);
    this.all.delete(note);
    this.totalChars -= note.message.length;
  }
}
