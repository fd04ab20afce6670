import type { GeoPoint } from './geo';

/** A message left at a point. */
export interface Note {
  readonly location: GeoPoint;
  readonly message: string;
}

/**
 * Where RouteChat keeps its notes. Implementations live in `src/stores/`: in this process (the
 * default) or in Redis (shared by every replica).
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
