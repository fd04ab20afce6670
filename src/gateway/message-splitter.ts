import { StringDecoder } from 'node:string_decoder';
import { status as Status } from '@grpc/grpc-js';
import { GatewayError, invalidArgument } from './http-status';

/**
 * Splits a client stream's HTTP body into the JSON text of its messages as the chunks arrive:
 * newline-delimited JSON (one message a line, blank lines skipped) or one JSON array (its
 * elements), told apart by the body's first non-blank character. Each message is limited to
 * `maxMessageBytes` (RESOURCE_EXHAUSTED beyond, as gRPC's receive limit); the body as a whole
 * is not, and only the current message is held.
 */
export class MessageSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private mode: 'unknown' | 'lines' | 'array' | 'done' = 'unknown';
  private current = '';
  /** Array mode: nesting depth inside the current element, and string state. */
  private depth = 0;
  private inString = false;
  private escaped = false;
  private elements = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** The messages completed by `chunk`, in order. */
  push(chunk: Buffer): string[] {
    return this.scan(this.decoder.write(chunk));
  }

  /** The last message, once the body has ended; throws when the body stopped mid-message. */
  end(): string[] {
    const out = this.scan(this.decoder.end());
    if (this.mode === 'lines') {
      if (this.current.trim() !== '') out.push(this.current);
      this.current = '';
    } else if (this.mode === 'array') {
      throw invalidArgument('body: the JSON array is not closed');
    }
    return out;
  }

  private scan(text: string): string[] {
    const out: string[] = [];
    let i = 0;
    if (this.mode === 'unknown') {
      while (i < text.length && isBlank(text.charCodeAt(i))) i++;
      if (i === text.length) return out;
      this.mode = text[i] === '[' ? 'array' : 'lines';
      if (this.mode === 'array') i++;
    }
    if (this.mode === 'lines') this.scanLines(text, i, out);
    else if (this.mode === 'array') this.scanArray(text, i, out);
    else if (text.slice(i).trim() !== '') throw invalidArgument('body: text after the JSON array');
    return out;
  }

  private scanLines(text: string, from: number, out: string[]): void {
    let start = from;
    for (let nl = text.indexOf('\n', start); nl >= 0; nl = text.indexOf('\n', start)) {
      const line = this.current + text.slice(start, nl);
      this.current = '';
      this.check(line.length);
      if (line.trim() !== '') out.push(line);
      start = nl + 1;
    }
    this.current += text.slice(start);
    this.check(this.current.length);
  }

  private scanArray(text: string, from: number, out: string[]): void {
    let start = from;
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d) this.depth--;
      else if (c === 0x5d && this.depth > 0) this.depth--;
      else if ((c === 0x2c || c === 0x5d) && this.depth === 0) {
        const element = (this.current + text.slice(start, i)).trim();
        this.current = '';
        start = i + 1;
        if (element !== '') out.push(element);
        else if (c === 0x2c || this.elements > 0) {
          throw invalidArgument(`body: empty element ${this.elements} in the JSON array`);
        }
        if (element !== '') this.elements++;
        if (c === 0x5d) {
          this.mode = 'done';
          if (text.slice(start).trim() !== '')
            throw invalidArgument('body: text after the JSON array');
          return;
        }
        continue;
      }
    }
    this.current += text.slice(start);
    this.check(this.current.length);
  }

  private check(length: number): void {
    // UTF-16 length ≤ UTF-8 length; a message over the limit in characters is over it in bytes.
    if (length > this.maxMessageBytes) {
      throw new GatewayError(
        Status.RESOURCE_EXHAUSTED,
        `body: a message is larger than ${this.maxMessageBytes} bytes`,
        413,
      );
    }
  }
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
