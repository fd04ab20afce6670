import { freeScratch } from './scratch';

/**
 * Feature names as UTF-8 bytes in one buffer with an offsets array, instead of a million small
 * JS strings: the names of a million features then cost ~25 MB outside the JS heap, and the heap
 * stays small, which keeps V8's collection thresholds (and so resident memory) small too. A name
 * is decoded when a feature is returned, which costs far less than sending it.
 */
export class NameTable {
  constructor(
    private readonly bytes: Buffer,
    /** Name i is bytes[offsets[i], offsets[i + 1]). */
    private readonly offsets: Uint32Array,
  ) {}

  /** Number of names. */
  get size(): number {
    return this.offsets.length - 1;
  }

  /** The UTF-8 bytes as stored (not checked to be valid UTF-8): name i is bytes[offsets[i], offsets[i + 1]). */
  rawBytes(): { readonly bytes: Buffer; readonly offsets: Uint32Array } {
    return { bytes: this.bytes, offsets: this.offsets };
  }

  /** Name at `index`, '' for unnamed features. */
  get(index: number): string {
    const start = this.offsets[index]!;
    const end = this.offsets[index + 1]!;
    return start === end ? '' : this.bytes.toString('utf8', start, end);
  }
}

/** Collects names in order; its storage grows by doubling, the outgrown copies freed at once. */
export class NameTableBuilder {
  private bytes = Buffer.allocUnsafe(64 * 1024);
  private offsets = new Uint32Array(1024);
  private used = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(name: string): void {
    this.reserve(Buffer.byteLength(name, 'utf8'));
    this.used += this.bytes.write(name, this.used, 'utf8');
    this.close();
  }

  /** Adds raw UTF-8 bytes (decoded later exactly as `Buffer#toString('utf8')` does). */
  addBytes(source: Buffer, start: number, end: number): void {
    this.reserve(end - start);
    if (end - start < 64) {
      // Short names (nearly all; a million of them in a large file): a byte loop beats a
      // native copy call.
      const bytes = this.bytes;
      let used = this.used;
      for (let i = start; i < end; i++) bytes[used++] = source[i]!;
      this.used = used;
    } else {
      this.used += source.copy(this.bytes, this.used, start, end);
    }
    this.close();
  }

  clear(): void {
    this.used = 0;
    this.count = 0;
  }

  /**
   * The names collected so far. With `trim` (the default) a copy of exactly their size; without,
   * views of this builder's storage, valid until {@link release} (for names that are only read
   * once, e.g. to be encoded).
   */
  build(trim = true): NameTable {
    const bytes = this.bytes.subarray(0, this.used);
    const offsets = this.offsets.subarray(0, this.count + 1);
    return trim
      ? new NameTable(Buffer.from(bytes), offsets.slice())
      : new NameTable(bytes, offsets);
  }

  /** Frees this builder's storage now (see scratch.ts); it must not be used afterwards. */
  release(): void {
    freeScratch(this.bytes, this.offsets);
  }

  private reserve(length: number): void {
    if (this.used + length > this.bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.used + length));
      this.bytes.copy(bigger, 0, 0, this.used);
      freeScratch(this.bytes);
      this.bytes = bigger;
    }
    if (this.count + 2 > this.offsets.length) {
      const bigger = new Uint32Array(this.offsets.length * 2);
      bigger.set(this.offsets);
      freeScratch(this.offsets);
      this.offsets = bigger;
    }
  }

  /** Ends the current name: offsets[count + 1] is where the next one starts. */
  private close(): void {
    this.offsets[++this.count] = this.used;
  }
}
