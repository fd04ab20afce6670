import { freeScratch } from '../../src/routeguide/scratch';

/** ArrayBuffer.prototype.transfer (ES2024: Node 22 and later); without it nothing is freed early. */
const canFree = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function';

describe('freeScratch', () => {
  it('frees arrays that own their whole buffer: they become empty', () => {
    const owned = new Int32Array(1024).fill(7);
    const buffer = Buffer.allocUnsafe(64 * 1024).fill(1);
    freeScratch(owned, buffer);
    expect(owned.length).toBe(canFree ? 0 : 1024);
    expect(buffer.length).toBe(canFree ? 0 : 64 * 1024);
  });

  it('leaves views of part of a buffer (pooled Buffers, subarrays) to the collector', () => {
    const pooled = Buffer.from('pooled');
    const whole = new Uint32Array(16).fill(3);
    const part = whole.subarray(4, 8);
    freeScratch(pooled, part);
    expect(pooled.toString()).toBe('pooled');
    expect([...part]).toEqual([3, 3, 3, 3]);
    expect(whole.length).toBe(16);
  });

  it('is harmless on an array already freed', () => {
    const owned = new Uint8Array(100);
    freeScratch(owned);
    expect(() => freeScratch(owned)).not.toThrow();
  });
});
