import { BoxIndex, type BoxCursor, type BoxIndexOptions } from './box-index';
import { EncodedFeatures } from './feature-wire';
import { NameTableBuilder, type NameTable } from './name-table';
import { JsonSyntaxError, readFeatureJson, type FeatureSink } from './feature-json';
import { freeScratch } from './scratch';
import {
  hashPoint,
  isValidLatitude,
  isValidLongitude,
  MAX_LATITUDE_E7,
  MAX_LONGITUDE_E7,
  type GeoBox,
  type GeoPoint,
} from './geo';

/** A named place. An empty name is legal: the canonical database has many. */
export interface Feature {
  readonly name: string;
  readonly location: GeoPoint;
}

/** Why a feature file could not be loaded; the message names the file and, where known, the entry. */
export class FeatureDatabaseError extends Error {
  constructor(
    readonly file: string,
    readonly entryIndex: number | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `features file ${file}: ${entryIndex === undefined ? '' : `entry ${entryIndex}: `}${detail}`,
      options,
    );
    this.name = 'FeatureDatabaseError';
  }
}

const EMPTY_SLOT = 0;

/**
 * The immutable, indexed feature database.
 *
 * Coordinates live in typed arrays and every feature's protobuf encoding in one buffer
 * (EncodedFeatures), which is also where names are read from (the NameTable they were loaded
 * into is dropped once they are encoded), and both indexes are flat typed arrays, so a million
 * features cost tens of megabytes outside the JS heap rather than a million small objects:
 * - exact lookups go through an open-addressing hash table (`slots` holds index + 1);
 * - box queries go through static k-d trees (kdbush) over integer coordinates, one over every
 *   feature and one per block of database order (BoxIndex), answered by a lazy cursor.
 * An entry's index is its position in the source file ("database order").
 */
export class FeatureDatabase {
  private readonly latitudes: Int32Array;
  private readonly longitudes: Int32Array;
  private readonly slots: Int32Array;
  private readonly slotMask: number;
  private readonly spatial: BoxIndex;
  private readonly encoded: EncodedFeatures;

  private constructor(
    latitudes: Int32Array,
    longitudes: Int32Array,
    names: NameTable,
    spatialOptions: BoxIndexOptions = {},
  ) {
    this.latitudes = latitudes;
    this.longitudes = longitudes;
    this.encoded = EncodedFeatures.encode(latitudes, longitudes, names);
    const count = names.size;

    // Load factor ≤ 0.5 keeps probe sequences short.
    let capacity = 16;
    while (capacity < count * 2) capacity *= 2;
    this.slots = new Int32Array(capacity);
    this.slotMask = capacity - 1;
    for (let i = 0; i < count; i++) this.insertSlot(i);

    this.spatial = new BoxIndex(latitudes, longitudes, count, spatialOptions);
  }

  /**
   * Builds a database from features in database order. Inputs are assumed valid. `spatial`
   * tunes the box index (tests and benchmarks; the defaults serve).
   */
  static fromFeatures(
    features: readonly Feature[],
    spatial: BoxIndexOptions = {},
  ): FeatureDatabase {
    const latitudes = new Int32Array(features.length);
    const longitudes = new Int32Array(features.length);
    const names = new NameTableBuilder();
    features.forEach((feature, i) => {
      latitudes[i] = feature.location.latitude;
      longitudes[i] = feature.location.longitude;
      names.add(feature.name);
    });
    const database = new FeatureDatabase(latitudes, longitudes, names.build(false), spatial);
    names.release();
    return database;
  }

  /**
   * Builds a database from parallel columns in database order. Inputs are assumed valid. The
   * names are only read while it is built (they are kept encoded).
   */
  static fromColumns(
    latitudes: Int32Array,
    longitudes: Int32Array,
    names: NameTable,
  ): FeatureDatabase {
    return new FeatureDatabase(latitudes, longitudes, names);
  }

  /** Number of features, duplicates included. */
  get size(): number {
    return this.encoded.size;
  }

  /** The feature at a database index. */
  featureAt(index: number): Feature {
    return {
      name: this.encoded.nameAt(index),
      location: { latitude: this.latitudes[index]!, longitude: this.longitudes[index]! },
    };
  }

  /**
   * The feature at a database index as `routeguide.Feature` protobuf bytes (encoded once, at
   * load; see feature-wire.ts): what the service sends, without building or encoding an object.
   */
  encodedAt(index: number): Buffer {
    return this.encoded.at(index);
  }

  /**
   * Database index of the first feature at exactly this location, or -1.
   * Hash lookup: O(1) expected whatever the size of the database.
   */
  indexOf(latitude: number, longitude: number): number {
    let slot = hashPoint(latitude, longitude) & this.slotMask;
    for (;;) {
      const stored = this.slots[slot]!;
      if (stored === EMPTY_SLOT) return -1;
      const index = stored - 1;
      if (this.latitudes[index] === latitude && this.longitudes[index] === longitude) return index;
      slot = (slot + 1) & this.slotMask;
    }
  }

  /** The first feature stored at exactly this point, if any. */
  find(point: GeoPoint): Feature | undefined {
    const index = this.indexOf(point.latitude, point.longitude);
    return index < 0 ? undefined : this.featureAt(index);
  }

  /** True when some feature is stored at exactly this point. */
  has(point: GeoPoint): boolean {
    return this.indexOf(point.latitude, point.longitude) >= 0;
  }

  /**
   * A lazy query for the features inside the inclusive box: its `next()` yields their database
   * indexes in database order, holding one block of hits at a time whatever the box (see
   * BoxIndex). Creating it does no work.
   */
  cursorWithin(box: GeoBox): BoxCursor {
    return this.spatial.cursor(box);
  }

  /**
   * Database indexes of every feature inside the inclusive box, in database order, all at once
   * (a drained {@link cursorWithin}; the service streams from a cursor instead).
   */
  indexesWithin(box: GeoBox): Uint32Array {
    const cursor = this.cursorWithin(box);
    const found: number[] = [];
    while (!cursor.done) {
      for (let index = cursor.next(); index >= 0; index = cursor.next()) found.push(index);
    }
    return Uint32Array.from(found);
  }

  private insertSlot(index: number): void {
    const latitude = this.latitudes[index]!;
    const longitude = this.longitudes[index]!;
    let slot = hashPoint(latitude, longitude) & this.slotMask;
    for (;;) {
      const stored = this.slots[slot]!;
      if (stored === EMPTY_SLOT) {
        this.slots[slot] = index + 1;
        return;
      }
      const other = stored - 1;
      // A duplicate location keeps the first entry, so lookups answer in database order.
      if (this.latitudes[other] === latitude && this.longitudes[other] === longitude) return;
      slot = (slot + 1) & this.slotMask;
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined) return 'nothing';
  return JSON.stringify(value) ?? String(value);
}

/** Validates one parsed feature entry; throws a FeatureDatabaseError naming the file and entry. */
export function parseFeatureEntry(entry: unknown, file: string, index: number): Feature {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    throw new FeatureDatabaseError(file, index, `expected an object, got ${describe(entry)}`);
  }
  const { name, location } = entry as Record<string, unknown>;
  if (typeof name !== 'string') {
    throw new FeatureDatabaseError(file, index, `name must be a string, got ${describe(name)}`);
  }
  if (location === null || typeof location !== 'object' || Array.isArray(location)) {
    throw new FeatureDatabaseError(
      file,
      index,
      `location must be an object with latitude and longitude, got ${describe(location)}`,
    );
  }
  const { latitude, longitude } = location as Record<string, unknown>;
  if (!isValidLatitude(latitude)) {
    throw new FeatureDatabaseError(
      file,
      index,
      `location.latitude must be an integer in [-${MAX_LATITUDE_E7}, ${MAX_LATITUDE_E7}], got ${describe(latitude)}`,
    );
  }
  if (!isValidLongitude(longitude)) {
    throw new FeatureDatabaseError(
      file,
      index,
      `location.longitude must be an integer in [-${MAX_LONGITUDE_E7}, ${MAX_LONGITUDE_E7}], got ${describe(longitude)}`,
    );
  }
  return { name, location: { latitude, longitude } };
}

/** Growable columns the loader fills entry by entry, validating each as it arrives. */
class FeatureColumns implements FeatureSink {
  latitudes = new Int32Array(1024);
  longitudes = new Int32Array(1024);
  readonly names = new NameTableBuilder();
  count = 0;

  constructor(private readonly file: string) {}

  plain(
    source: Buffer,
    nameStart: number,
    nameEnd: number,
    latitude: number,
    longitude: number,
  ): void {
    if (!isValidLatitude(latitude) || !isValidLongitude(longitude)) {
      const name = source.toString('utf8', nameStart, nameEnd);
      this.parsed({ name, location: { latitude, longitude } });
      return;
    }
    this.names.addBytes(source, nameStart, nameEnd);
    this.pushCoordinates(latitude, longitude);
  }

  parsed(entry: unknown): void {
    const { name, location } = parseFeatureEntry(entry, this.file, this.count);
    this.names.add(name);
    this.pushCoordinates(location.latitude, location.longitude);
  }

  reset(): void {
    this.names.clear();
    this.count = 0;
  }

  /** The database of what was read; the columns' storage is freed, they must not be used after. */
  build(): FeatureDatabase {
    // Trimmed to size, so the spare capacity is freed.
    const database = FeatureDatabase.fromColumns(
      this.latitudes.slice(0, this.count),
      this.longitudes.slice(0, this.count),
      this.names.build(false),
    );
    this.names.release();
    freeScratch(this.latitudes, this.longitudes);
    return database;
  }

  private pushCoordinates(latitude: number, longitude: number): void {
    if (this.count === this.latitudes.length) {
      const latitudes = new Int32Array(this.count * 2);
      latitudes.set(this.latitudes);
      const longitudes = new Int32Array(this.count * 2);
      longitudes.set(this.longitudes);
      freeScratch(this.latitudes, this.longitudes);
      this.latitudes = latitudes;
      this.longitudes = longitudes;
    }
    this.latitudes[this.count] = latitude;
    this.longitudes[this.count] = longitude;
    this.count++;
  }
}

/**
 * Reads, validates and indexes a feature file. Any problem is a FeatureDatabaseError.
 *
 * The file is read in one streaming pass straight into typed arrays (see feature-json.ts), so
 * a million features load without a 100 MB string or a million parsed objects in memory.
 */
export function loadFeatureDatabase(file: string): FeatureDatabase {
  const columns = new FeatureColumns(file);
  let found: boolean;
  try {
    found = readFeatureJson(file, columns);
  } catch (cause) {
    if (cause instanceof FeatureDatabaseError) throw cause;
    if (cause instanceof JsonSyntaxError) {
      throw new FeatureDatabaseError(file, undefined, `is not valid JSON (${cause.message})`, {
        cause,
      });
    }
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw new FeatureDatabaseError(file, undefined, `cannot be read (${reason})`, { cause });
  }
  if (!found) {
    throw new FeatureDatabaseError(
      file,
      undefined,
      'expected a JSON array of features or an object with a "feature" array',
    );
  }
  return columns.build();
}
