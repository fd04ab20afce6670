import { closeSync, openSync, readSync } from 'node:fs';

/**
 * A single-pass reader for feature files that never holds the whole file, nor a million parsed
 * objects, in memory: it reads the file in chunks and hands each array entry to a sink as soon
 * as it is complete. Entries of the usual shape (`{"name": "…", "location": {"latitude": int,
 * "longitude": int}}`, keys in any order) are decoded directly from the bytes; anything else is
 * cut out and given to JSON.parse, so odd but valid JSON still loads and bad entries are reported
 * exactly as JSON.parse and the validator see them.
 */

/** The file is not well-formed JSON. */
export class JsonSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonSyntaxError';
  }
}

/** Receives the entries of the feature array in order. */
export interface FeatureSink {
  /**
   * An entry of the usual shape: its name is the raw UTF-8 `source[nameStart, nameEnd)` (no
   * escapes), its coordinates are integers, not yet range-checked.
   */
  plain(
    source: Buffer,
    nameStart: number,
    nameEnd: number,
    latitude: number,
    longitude: number,
  ): void;
  /** Any other entry, as JSON.parse returns it. */
  parsed(entry: unknown): void;
  /** A later `"feature"` key replaces the array read so far (JSON.parse keeps the last key). */
  reset(): void;
}

const CHUNK_BYTES = 1 << 20;
/** Bytes of lookahead the fast path may use; a longer entry takes the JSON.parse path. */
const FAST_WINDOW = 4096;

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const QUOTE = 0x22;
const COMMA = 0x2c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const BACKSLASH = 0x5c;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;

const KEY_NAME = Buffer.from('"name"');
const KEY_LOCATION = Buffer.from('"location"');
const KEY_LATITUDE = Buffer.from('"latitude"');
const KEY_LONGITUDE = Buffer.from('"longitude"');

function isWhitespace(c: number): boolean {
  return c === SPACE || c === LF || c === CR || c === TAB;
}

/** The byte at i, or -1 past `end`. */
function byteAt(b: Buffer, end: number, i: number): number {
  return i < end ? b[i]! : -1;
}

/** The first index from i on that is not JSON whitespace (or `end`). */
function skipSpace(b: Buffer, end: number, i: number): number {
  while (i < end && isWhitespace(b[i]!)) i++;
  return i;
}

/** True when `key` (a few bytes) is at b[i]; a byte loop, cheaper than a native compare here. */
function hasKey(b: Buffer, end: number, i: number, key: Buffer): boolean {
  const n = key.length;
  if (i + n > end) return false;
  for (let k = 0; k < n; k++) if (b[i + k] !== key[k]) return false;
  return true;
}

function describeByte(c: number): string {
  return c < 0
    ? 'end of input'
    : c >= 0x21 && c < 0x7f
      ? `'${String.fromCharCode(c)}'`
      : `byte 0x${c.toString(16)}`;
}

/** A window over the file: `buf[pos..end)` is unread; bytes from `mark` on are kept on refill. */
class ByteWindow {
  buf = Buffer.allocUnsafe(CHUNK_BYTES);
  pos = 0;
  end = 0;
  /** File offset of buf[0]. */
  base = 0;
  /** File offset from which bytes must be kept (the start of the value being cut out). */
  mark = Infinity;
  private eof = false;

  constructor(private readonly fd: number) {}

  /** Tries to make `count` unread bytes available; false once the file ends first. */
  ensure(count: number): boolean {
    while (this.end - this.pos < count && !this.eof) {
      const keep = Math.min(this.pos, Math.max(0, this.mark - this.base));
      if (keep > 0) {
        this.buf.copy(this.buf, 0, keep, this.end);
        this.base += keep;
        this.pos -= keep;
        this.end -= keep;
      }
      if (this.end === this.buf.length) {
        const bigger = Buffer.allocUnsafe(this.buf.length * 2);
        this.buf.copy(bigger, 0, 0, this.end);
        this.buf = bigger;
      }
      const read = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
      if (read === 0) this.eof = true;
      this.end += read;
    }
    return this.end - this.pos >= count;
  }

  peek(): number {
    return this.pos < this.end || this.ensure(1) ? this.buf[this.pos]! : -1;
  }

  skipWhitespace(): number {
    for (;;) {
      const c = this.peek();
      if (!isWhitespace(c)) return c;
      this.pos++;
    }
  }

  fail(c = this.peek()): never {
    throw new JsonSyntaxError(
      c < 0
        ? 'unexpected end of input'
        : `unexpected ${describeByte(c)} at byte ${this.base + this.pos}`,
    );
  }

  expect(c: number): void {
    if (this.skipWhitespace() !== c) this.fail();
    this.pos++;
  }

  private skipString(): void {
    this.pos++;
    for (;;) {
      const c = this.peek();
      if (c < 0) this.fail(c);
      this.pos++;
      if (c === QUOTE) return;
      if (c === BACKSLASH) {
        if (this.peek() < 0) this.fail();
        this.pos++;
      }
    }
  }

  /** Moves past one value by its structure only; JSON.parse checks the content. */
  private skipValue(): void {
    const first = this.peek();
    if (first === QUOTE) return this.skipString();
    if (first === LBRACE || first === LBRACKET) {
      this.pos++;
      let depth = 1;
      while (depth > 0) {
        const c = this.peek();
        if (c < 0) this.fail(c);
        if (c === QUOTE) {
          this.skipString();
          continue;
        }
        if (c === LBRACE || c === LBRACKET) depth++;
        else if (c === RBRACE || c === RBRACKET) depth--;
        this.pos++;
      }
      return;
    }
    const start = this.pos;
    for (;;) {
      const c = this.peek();
      if (c < 0 || isWhitespace(c) || c === COMMA || c === RBRACKET || c === RBRACE || c === COLON)
        break;
      this.pos++;
    }
    if (this.pos === start) this.fail();
  }

  /** Cuts out the value starting here and parses it with JSON.parse. */
  parseValue(): unknown {
    this.mark = this.base + this.pos;
    this.skipValue();
    const start = this.mark - this.base;
    this.mark = Infinity;
    const text = this.buf.toString('utf8', start, this.pos);
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new JsonSyntaxError(
        `${(error as Error).message}, in the value at byte ${this.base + start}`,
      );
    }
  }

  /**
   * Decodes an entry of the usual shape from the bytes in the window and moves past it, or
   * returns false (moving nothing) when the entry is anything else.
   */
  fastEntry(sink: FeatureSink): boolean {
    // Hot: runs once per feature (a million times for a large file), so it allocates nothing
    // and calls nothing native; the helpers below are plain functions over (bytes, end, index).
    const b = this.buf;
    const end = this.end;
    let p = this.pos;
    let nameStart = -1;
    let nameEnd = -1;
    let latitude: number | undefined;
    let longitude: number | undefined;

    if (byteAt(b, end, p) !== LBRACE) return false;
    p = skipSpace(b, end, p + 1);
    for (let field = 0; field < 2; field++) {
      if (field > 0) {
        if (byteAt(b, end, p) !== COMMA) return false;
        p = skipSpace(b, end, p + 1);
      }
      if (nameStart < 0 && hasKey(b, end, p, KEY_NAME)) {
        p = skipSpace(b, end, p + KEY_NAME.length);
        if (byteAt(b, end, p) !== COLON) return false;
        p = skipSpace(b, end, p + 1);
        if (byteAt(b, end, p) !== QUOTE) return false;
        const start = ++p;
        // Escapes and raw control characters go to JSON.parse.
        while (p < end && b[p]! !== QUOTE && b[p]! !== BACKSLASH && b[p]! >= SPACE) p++;
        if (byteAt(b, end, p) !== QUOTE) return false;
        nameStart = start;
        nameEnd = p;
        p = skipSpace(b, end, p + 1);
      } else if (latitude === undefined && hasKey(b, end, p, KEY_LOCATION)) {
        p = skipSpace(b, end, p + KEY_LOCATION.length);
        if (byteAt(b, end, p) !== COLON) return false;
        p = skipSpace(b, end, p + 1);
        if (byteAt(b, end, p) !== LBRACE) return false;
        p = skipSpace(b, end, p + 1);
        for (let coordinate = 0; coordinate < 2; coordinate++) {
          if (coordinate > 0) {
            if (byteAt(b, end, p) !== COMMA) return false;
            p = skipSpace(b, end, p + 1);
          }
          if (latitude === undefined && hasKey(b, end, p, KEY_LATITUDE)) {
            p = this.integer(p + KEY_LATITUDE.length);
            latitude = this.value;
          } else if (longitude === undefined && hasKey(b, end, p, KEY_LONGITUDE)) {
            p = this.integer(p + KEY_LONGITUDE.length);
            longitude = this.value;
          } else return false;
          if (p < 0) return false;
          p = skipSpace(b, end, p);
        }
        if (byteAt(b, end, p) !== RBRACE) return false;
        p = skipSpace(b, end, p + 1);
      } else return false;
    }
    if (byteAt(b, end, p) !== RBRACE || nameStart < 0) return false;
    this.pos = p + 1;
    sink.plain(b, nameStart, nameEnd, latitude!, longitude!);
    return true;
  }

  /** The integer {@link integer} parsed last. */
  private value = 0;

  /**
   * Parses `: <int>` at i into {@link value}; returns the index after it, or -1 for anything
   * else (leading zeros, fractions, exponents and long numbers go to JSON.parse).
   */
  private integer(i: number): number {
    const b = this.buf;
    const end = this.end;
    i = skipSpace(b, end, i);
    if (byteAt(b, end, i) !== COLON) return -1;
    i = skipSpace(b, end, i + 1);
    const negative = byteAt(b, end, i) === MINUS;
    if (negative) i++;
    const first = i;
    let value = 0;
    while (i < end && b[i]! >= ZERO && b[i]! <= NINE && i - first < 11)
      value = value * 10 + b[i++]! - ZERO;
    const digits = i - first;
    const next = byteAt(b, end, i);
    if (digits === 0 || digits > 10 || (digits > 1 && b[first] === ZERO)) return -1;
    if (!(isWhitespace(next) || next === COMMA || next === RBRACE)) return -1;
    this.value = negative ? -value : value;
    return i;
  }

  /** Reads the array starting here, entry by entry. */
  streamArray(sink: FeatureSink): void {
    this.pos++;
    if (this.skipWhitespace() === RBRACKET) {
      this.pos++;
      return;
    }
    for (;;) {
      this.ensure(FAST_WINDOW);
      if (!this.fastEntry(sink)) sink.parsed(this.parseValue());
      const c = this.skipWhitespace();
      this.pos++;
      if (c === RBRACKET) return;
      if (c !== COMMA) {
        this.pos--;
        this.fail(c);
      }
      this.skipWhitespace();
    }
  }
}

/**
 * Reads a feature file (a JSON array, or an object whose `"feature"` key holds the array) and
 * feeds its entries to `sink`. Returns false when the file is valid JSON but holds no such array.
 * Throws JsonSyntaxError for malformed JSON and lets file-system errors through.
 */
export function readFeatureJson(file: string, sink: FeatureSink): boolean {
  const fd = openSync(file, 'r');
  try {
    const window = new ByteWindow(fd);
    let found = false;
    const first = window.skipWhitespace();
    if (first === LBRACKET) {
      window.streamArray(sink);
      found = true;
    } else if (first === LBRACE) {
      window.pos++;
      if (window.skipWhitespace() === RBRACE) window.pos++;
      else {
        for (;;) {
          if (window.skipWhitespace() !== QUOTE) window.fail();
          const key = window.parseValue() as string;
          window.expect(COLON);
          const valueStart = window.skipWhitespace();
          if (key === 'feature' && valueStart === LBRACKET) {
            if (found) sink.reset();
            window.streamArray(sink);
            found = true;
          } else {
            if (key === 'feature') found = false;
            window.parseValue();
          }
          const c = window.skipWhitespace();
          window.pos++;
          if (c === RBRACE) break;
          if (c !== COMMA) {
            window.pos--;
            window.fail(c);
          }
        }
      }
    } else {
      window.parseValue();
    }
    if (window.skipWhitespace() >= 0) window.fail();
    return found;
  } finally {
    closeSync(fd);
  }
}
