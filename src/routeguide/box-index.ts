import KDBush from 'kdbush';
import type { GeoBox } from './geo';

/** Default of {@link BoxIndexOptions.blockSize}. */
export const DEFAULT_BLOCK_SIZE = 4096;

/** Leaf size of the k-d trees (kdbush's default). */
const NODE_SIZE = 64;

/** Entries of a k-d tree walk's stack: three per level, and no kdbush tree is 32 levels deep. */
const STACK_SIZE = 96;

/**
 * A cursor's first buffer of hits (small enough for V8 to keep on its heap, which makes it
 * cheap); when the whole tree has more, it is replaced by a block's worth.
 */
const INITIAL_BUFFER = 16;

/** Up to this many hits are sorted by insertion, cheaper than a typed-array sort call. */
const INSERTION_SORT_MAX = 32;

/** Tuning of a {@link BoxIndex}; code-level, for tests and benchmarks. */
export interface BoxIndexOptions {
  /**
   * Database indexes per block, each with its own k-d tree and bounding box; also the most
   * hits a cursor sorts at once, so its buffer's size. Default: 4096 ({@link DEFAULT_BLOCK_SIZE}).
   */
  readonly blockSize?: number;
  /**
   * The most blocks a cursor examines in one call of `next()` before it pauses (returns -1 with
   * `done` false) so its caller can check on the call. Default: 64.
   */
  readonly blocksPerStep?: number;
}

/**
 * Writes the ids of `tree`'s points inside the inclusive box into `out` (from `count`), each plus
 * `base`, and returns the new count; returns -1 as soon as that would exceed `cap` (what is in
 * `out` is then garbage). kdbush's own range walk, bounded and without a JS array.
 */
function collectRange(
  tree: KDBush,
  box: GeoBox,
  out: Uint32Array,
  cap: number,
  base: number,
  stack: Uint32Array,
): number {
  const { ids, coords, nodeSize } = tree;
  const { minLongitude, minLatitude, maxLongitude, maxLatitude } = box;
  let count = 0;
  stack[0] = 0;
  stack[1] = ids.length - 1;
  stack[2] = 0;
  let sp = 3;
  while (sp > 0) {
    const axis = stack[--sp]!;
    const right = stack[--sp]!;
    const left = stack[--sp]!;
    if (right - left <= nodeSize) {
      for (let i = left; i <= right; i++) {
        const x = coords[2 * i]!;
        const y = coords[2 * i + 1]!;
        if (x >= minLongitude && x <= maxLongitude && y >= minLatitude && y <= maxLatitude) {
          if (count === cap) return -1;
          out[count++] = base + ids[i]!;
        }
      }
      continue;
    }
    const m = (left + right) >> 1;
    const x = coords[2 * m]!;
    const y = coords[2 * m + 1]!;
    if (x >= minLongitude && x <= maxLongitude && y >= minLatitude && y <= maxLatitude) {
      if (count === cap) return -1;
      out[count++] = base + ids[m]!;
    }
    if (axis === 0 ? minLongitude <= x : minLatitude <= y) {
      stack[sp++] = left;
      stack[sp++] = m - 1;
      stack[sp++] = 1 - axis;
    }
    if (axis === 0 ? maxLongitude >= x : maxLatitude >= y) {
      stack[sp++] = m + 1;
      stack[sp++] = right;
      stack[sp++] = 1 - axis;
    }
  }
  return count;
}

function buildTree(latitudes: Int32Array, longitudes: Int32Array, from: number, to: number) {
  const tree = new KDBush(to - from, NODE_SIZE, Int32Array);
  for (let i = from; i < to; i++) tree.add(longitudes[i]!, latitudes[i]!);
  return tree.finish();
}

/**
 * The spatial index behind box queries, answered lazily and in database order.
 *
 * - A k-d tree (kdbush) over every point answers a box with few hits: the hits (at most one
 *   block's worth) are collected, sorted and emitted.
 * - Database order is cut into blocks of `blockSize` indexes, each with its own k-d tree and
 *   bounding box. A box with more hits is walked block by block: a block outside the box is
 *   skipped, a block inside it is emitted as a run of indexes, any other is queried on its own
 *   tree and its (≤ blockSize) hits sorted.
 *
 * So a cursor holds one block's hits whatever the size of the box, and its work follows what
 * is taken from it: a few tree nodes for a small box, one block per `blockSize` hits (or per
 * bounding-box check) for a large one.
 */
export class BoxIndex {
  readonly blockSize: number;
  readonly blocksPerStep: number;
  /** The k-d tree over all points; undefined when there are none. */
  readonly whole: KDBush | undefined;
  /** Block b's tree covers indexes [b × blockSize, min(size, (b + 1) × blockSize)). */
  readonly blocks: readonly KDBush[];
  /** Block b's bounding box: minLongitude, minLatitude, maxLongitude, maxLatitude at 4b. */
  readonly bounds: Int32Array;
  /**
   * The stack of a k-d tree walk. Shared by all cursors: a walk runs start to end within one
   * synchronous call, so no two walks ever use it at once.
   */
  readonly walkStack = new Uint32Array(STACK_SIZE);

  constructor(
    latitudes: Int32Array,
    longitudes: Int32Array,
    readonly size: number,
    options: BoxIndexOptions = {},
  ) {
    this.blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
    this.blocksPerStep = options.blocksPerStep ?? 64;
    const count = Math.ceil(size / this.blockSize);
    this.whole = size > 0 ? buildTree(latitudes, longitudes, 0, size) : undefined;
    this.bounds = new Int32Array(4 * count);
    const blocks: KDBush[] = [];
    for (let b = 0; b < count; b++) {
      const from = b * this.blockSize;
      const to = Math.min(size, from + this.blockSize);
      blocks.push(buildTree(latitudes, longitudes, from, to));
      this.measureBlock(b, latitudes, longitudes, from, to);
    }
    this.blocks = blocks;
  }

  /** A cursor over the indexes inside the inclusive box, in database order; it starts idle. */
  cursor(box: GeoBox): BoxCursor {
    return new BoxCursor(this, box);
  }

  private measureBlock(
    block: number,
    latitudes: Int32Array,
    longitudes: Int32Array,
    from: number,
    to: number,
  ): void {
    let minLongitude = Infinity;
    let minLatitude = Infinity;
    let maxLongitude = -Infinity;
    let maxLatitude = -Infinity;
    for (let i = from; i < to; i++) {
      const longitude = longitudes[i]!;
      const latitude = latitudes[i]!;
      if (longitude < minLongitude) minLongitude = longitude;
      if (longitude > maxLongitude) maxLongitude = longitude;
      if (latitude < minLatitude) minLatitude = latitude;
      if (latitude > maxLatitude) maxLatitude = latitude;
    }
    this.bounds.set([minLongitude, minLatitude, maxLongitude, maxLatitude], 4 * block);
  }
}

/**
 * `idle`: nothing done yet; `final`: the buffered hits of the whole tree are all there is;
 * `blocks`: walking blocks, `nextBlock` is the next to examine.
 */
type Phase = 'idle' | 'final' | 'blocks';

/**
 * A resumable box query: `next()` yields matching database indexes in increasing order. It holds
 * at most one block's hits (`blockSize` indexes), and one call of `next()` does bounded work: a
 * walk of the whole tree that stops at `blockSize` hits, or up to `blocksPerStep` blocks.
 */
export class BoxCursor {
  private phase: Phase = 'idle';
  private buffer = new Uint32Array(0);
  /** buffer[position, length) are sorted hits not yet yielded. */
  private position = 0;
  private length = 0;
  /** [runNext, runEnd) is a block entirely inside the box, not yet yielded. */
  private runNext = 0;
  private runEnd = 0;
  private nextBlock = 0;
  private finished: boolean;

  constructor(
    private readonly index: BoxIndex,
    private readonly box: GeoBox,
  ) {
    this.finished = index.whole === undefined;
  }

  /** True once every matching index has been yielded. */
  get done(): boolean {
    return this.finished;
  }

  /**
   * The next matching database index, or -1: then either the query is `done`, or this step's
   * work is spent (blocks examined without a hit) and `next()` may be called again.
   */
  next(): number {
    for (;;) {
      if (this.position < this.length) return this.buffer[this.position++]!;
      if (this.runNext < this.runEnd) return this.runNext++;
      if (this.finished || !this.advance()) return -1;
    }
  }

  /** One step of the query; false when it has nothing to yield (done, or its budget spent). */
  private advance(): boolean {
    switch (this.phase) {
      case 'idle':
        return this.queryWhole() || this.walkBlocks();
      case 'final':
        this.finished = true;
        return false;
      case 'blocks':
        return this.walkBlocks();
    }
  }

  /**
   * Few hits (at most a block's worth): collects them from the whole tree and returns true.
   * Too many: returns false, leaving them to the block walk.
   */
  private queryWhole(): boolean {
    const cap = this.index.blockSize;
    for (let size = Math.min(INITIAL_BUFFER, cap); ; size = cap) {
      if (this.buffer.length < size) this.buffer = new Uint32Array(size);
      const found = collectRange(
        this.index.whole!,
        this.box,
        this.buffer,
        size,
        0,
        this.index.walkStack,
      );
      if (found >= 0) {
        this.emitSorted(found);
        this.phase = 'final';
        return true;
      }
      if (size === cap) break;
    }
    // Blocks inside the box need no buffer; one is allocated when a block has to be queried.
    this.buffer = new Uint32Array(0);
    this.phase = 'blocks';
    return false;
  }

  /**
   * Examines blocks until one has hits (true), or the blocks or the step's budget run out
   * (false).
   */
  private walkBlocks(): boolean {
    const { blocks, bounds, blockSize, blocksPerStep } = this.index;
    const { minLongitude, minLatitude, maxLongitude, maxLatitude } = this.box;
    const last = Math.min(blocks.length, this.nextBlock + blocksPerStep);
    while (this.nextBlock < last) {
      const block = this.nextBlock++;
      const at = 4 * block;
      const west = bounds[at]!;
      const south = bounds[at + 1]!;
      const east = bounds[at + 2]!;
      const north = bounds[at + 3]!;
      if (
        west > maxLongitude ||
        east < minLongitude ||
        south > maxLatitude ||
        north < minLatitude
      ) {
        continue;
      }
      const base = block * blockSize;
      if (
        west >= minLongitude &&
        east <= maxLongitude &&
        south >= minLatitude &&
        north <= maxLatitude
      ) {
        this.runNext = base;
        this.runEnd = base + blocks[block]!.numItems;
        return true;
      }
      if (this.buffer.length < blockSize) this.buffer = new Uint32Array(blockSize);
      const found = collectRange(
        blocks[block]!,
        this.box,
        this.buffer,
        blockSize,
        base,
        this.index.walkStack,
      );
      if (found > 0) {
        this.emitSorted(found);
        return true;
      }
    }
    if (this.nextBlock === blocks.length) this.finished = true;
    return false;
  }

  private emitSorted(count: number): void {
    const buffer = this.buffer;
    if (count > INSERTION_SORT_MAX) {
      buffer.subarray(0, count).sort();
    } else {
      for (let i = 1; i < count; i++) {
        const value = buffer[i]!;
        let j = i - 1;
        for (; j >= 0 && buffer[j]! > value; j--) buffer[j + 1] = buffer[j]!;
        buffer[j + 1] = value;
      }
    }
    this.position = 0;
    this.length = count;
  }
}
