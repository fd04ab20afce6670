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

/** The notes at `location` for a replay, oldest first: fresh objects sharing one location copy. */
function toNotes(location: GeoPoint, messages: Messages | undefined): Note[] {
  if (messages === undefined) return [];
  const where = { latitude: location.latitude, longitude: location.longitude };
  if (typeof messages === 'string') return [{ location: where, message: messages }];
  return messages.map((message) => ({ location: where, message }));
}

/**
 * The messages at one location, oldest first: the message itself while the location holds one
 * note (most do), an array of them from the second note on. Neither a location nor a note
 * object is kept per note: the location is the map key.
 */
type Messages = string | string[];

/**
 * A first-in first-out queue of strings in a ring buffer that doubles when full: O(1) push and
 * shift with one slot per entry, no per-entry object (as a Set or a linked list has) and no
 * `Array#shift`, which copies the whole backing store once it is large.
 */
class StringQueue {
  private items: (string | undefined)[] = new Array<string | undefined>(16).fill(undefined);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: string): void {
    if (this.count === this.items.length) this.resize(this.items.length * 2);
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
  }

  /** Removes and returns the oldest item; the queue must not be empty. */
  shift(): string {
    const item = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  /** Keeps only the items for which `keep` is true, in order, in a buffer sized to fit them. */
  filter(keep: (item: string) => boolean): void {
    const kept: string[] = [];
    for (let i = 0; i < this.count; i++) {
      const item = this.items[(this.head + i) % this.items.length]!;
      if (keep(item)) kept.push(item);
    }
    let capacity = 16;
    while (capacity < kept.length) capacity *= 2;
    this.items = new Array<string | undefined>(capacity).fill(undefined);
    for (let i = 0; i < kept.length; i++) this.items[i] = kept[i];
    this.head = 0;
    this.count = kept.length;
  }

  private resize(capacity: number): void {
    const items = new Array<string | undefined>(capacity).fill(undefined);
    for (let i = 0; i < this.count; i++) {
      items[i] = this.items[(this.head + i) % this.items.length];
    }
    this.items = items;
    this.head = 0;
  }
}

/**
 * The RouteChat notes of this process, bounded in count and size.
 *
 * Compact by design (issue 14: 1M notes through RouteChat must grow the server by at most
 * 64 MB): per note, only its message string, a slot in its location's entry and a location key
 * in `order`; no note or location object.
 *
 * - `byLocation` maps a location key to its messages, oldest first (what a chat replays).
 * - `order` holds the location key of every note, oldest first overall (what the global caps
 *   evict). The globally oldest note is also the oldest at its own location, so evicting it is
 *   removing the first message at the key at the head of `order`.
 * - A note evicted by the per-location cap stays in `order` as a dead entry: `skipped` counts,
 *   per key, the dead entries not yet passed. A location's notes leave in the order they came,
 *   so its dead entries are always its first ones in `order`, and the global eviction drops
 *   them as it meets them. When dead entries outnumber live ones, `order` is compacted, so it
 *   stays within twice the notes held.
 */
export class MemoryNotesStore implements NotesStore {
  private readonly byLocation = new Map<string, Messages>();
  private readonly order = new StringQueue();
  private readonly skipped = new Map<string, number>();
  private count = 0;
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
    return this.count;
  }

  /** Number of distinct locations with notes. */
  get locationCount(): number {
    return this.byLocation.size;
  }

  /** Notes held at a location, oldest first (a copy). */
  at(location: GeoPoint): Note[] {
    return toNotes(location, this.byLocation.get(locationKey(location)));
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
    const { message } = note;
    const key = locationKey(note.location);
    const here = this.byLocation.get(key);
    const earlier = toNotes(note.location, here);
    let atLocation: number;
    if (here === undefined) {
      this.byLocation.set(key, message);
      atLocation = 1;
    } else if (typeof here === 'string') {
      this.byLocation.set(key, [here, message]);
      atLocation = 2;
    } else {
      here.push(message);
      atLocation = here.length;
    }
    this.order.push(key);
    this.count++;
    this.totalChars += message.length;

    if (atLocation > this.maxPerLocation) {
      this.removeOldestAt(key);
      this.skipped.set(key, (this.skipped.get(key) ?? 0) + 1);
    }
    // A single note larger than the whole text budget is kept alone rather than rejected.
    while (this.count > this.maxTotal || (this.totalChars > this.maxTotalChars && this.count > 1)) {
      this.evictOldest();
    }
    if (this.order.length > 2 * this.count + 16) this.compact();
    return earlier;
  }

  /** Removes the globally oldest note, passing the dead entries before it. */
  private evictOldest(): void {
    for (;;) {
      const key = this.order.shift();
      const dead = this.skipped.get(key);
      if (dead === undefined) {
        this.removeOldestAt(key);
        return;
      }
      if (dead === 1) this.skipped.delete(key);
      else this.skipped.set(key, dead - 1);
    }
  }

  /** Drops every dead entry from `order`; afterwards no key has any left. */
  private compact(): void {
    this.order.filter((key) => {
      const dead = this.skipped.get(key);
      if (dead === undefined) return true;
      if (dead === 1) this.skipped.delete(key);
      else this.skipped.set(key, dead - 1);
      return false;
    });
  }

  /** Removes the oldest note at a location that has one. */
  private removeOldestAt(key: string): void {
    const here = this.byLocation.get(key)!;
    let message: string;
    if (typeof here === 'string') {
      message = here;
      this.byLocation.delete(key);
    } else {
      message = here.shift()!;
      // Back to the bare message once one is left.
      if (here.length === 1) this.byLocation.set(key, here[0]!);
    }
    this.count--;
    this.totalChars -= message.length;
  }
}
