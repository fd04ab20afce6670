/**
 * Frees the memory behind load-time scratch arrays now, instead of whenever the garbage
 * collector next runs: a million features leave tens of megabytes of grown-and-copied arrays
 * behind, which would otherwise still be resident when the server starts serving. Each view
 * must own its whole ArrayBuffer (anything else, e.g. a pooled small Buffer, is left to the
 * collector) and must not be used afterwards: it becomes empty. Runtimes without
 * `ArrayBuffer.prototype.transfer` leave everything to the collector.
 */
export function freeScratch(...views: ArrayBufferView[]): void {
  for (const view of views) {
    // ES2024 members, not in this project's ES2022 lib.
    const buffer = view.buffer as ArrayBuffer & {
      readonly detached?: boolean;
      transfer?: (length: number) => ArrayBuffer;
    };
    if (
      typeof buffer.transfer === 'function' &&
      buffer.detached === false &&
      view.byteOffset === 0 &&
      view.byteLength === buffer.byteLength
    ) {
      buffer.transfer(0);
    }
  }
}
