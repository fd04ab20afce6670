import type { ServerInterceptingCallInterface } from '@grpc/grpc-js';
import {
  MESSAGE_OVERHEAD_BYTES as OVERHEAD,
  sendWriteBehind,
  type WriteBehindState,
} from '../../src/grpc/write-behind';

/** The next call down: records what was sent and completes writes when told to. */
function transport() {
  const writes: { message: unknown; complete: () => void }[] = [];
  const next = {
    sendMessage: (message: unknown, callback: () => void) =>
      writes.push({ message, complete: callback }),
  } as unknown as ServerInterceptingCallInterface;
  return { next, writes };
}

describe('sendWriteBehind', () => {
  it('confirms encoded messages at once while the window holds them, then waits for writes', () => {
    const { next, writes } = transport();
    const state: WriteBehindState = { pendingBytes: 0 };
    const confirmed: number[] = [];
    const window = 2 * (40 + OVERHEAD) + 20;
    for (let i = 0; i < 5; i++) {
      sendWriteBehind(state, next, Buffer.alloc(40), () => confirmed.push(i), window);
    }
    // Two messages (40 bytes plus the per-message overhead each) fit; the third and later wait
    // for their own write.
    expect(confirmed).toEqual([0, 1]);
    expect(writes).toHaveLength(5);
    expect(state.pendingBytes).toBe(5 * (40 + OVERHEAD));

    writes[0]!.complete();
    writes[1]!.complete();
    expect(confirmed).toEqual([0, 1]);
    writes[2]!.complete();
    expect(confirmed).toEqual([0, 1, 2]);
    writes[3]!.complete();
    writes[4]!.complete();
    expect(confirmed).toEqual([0, 1, 2, 3, 4]);
    expect(state.pendingBytes).toBe(0);

    // The window is free again.
    sendWriteBehind(state, next, Buffer.alloc(100), () => confirmed.push(5), window);
    expect(confirmed).toContain(5);
  });

  it('hands every message down in order, exactly once', () => {
    const { next, writes } = transport();
    const state: WriteBehindState = { pendingBytes: 0 };
    const messages = Array.from({ length: 50 }, (_, i) => Buffer.from([i]));
    for (const message of messages) sendWriteBehind(state, next, message, () => {}, 10);
    expect(writes.map((w) => w.message)).toEqual(messages);
  });

  it.each([
    {
      what: 'a message larger than the window',
      message: Buffer.alloc(101),
      window: 100 + OVERHEAD,
      held: 101 + OVERHEAD,
    },
    {
      what: 'a message that is not bytes (size unknown, as grpc-js does)',
      message: { name: 'an object' },
      window: 1 << 20,
      held: 0,
    },
    {
      what: 'any message when the window is 0 (off)',
      message: Buffer.alloc(1),
      window: 0,
      held: 1 + OVERHEAD,
    },
  ])('$what is confirmed only when written', ({ message, window, held }) => {
    const { next, writes } = transport();
    const state: WriteBehindState = { pendingBytes: 0 };
    let confirmed = false;
    sendWriteBehind(state, next, message, () => (confirmed = true), window);
    expect(confirmed).toBe(false);
    expect(state.pendingBytes).toBe(held);
    writes[0]!.complete();
    expect(confirmed).toBe(true);
    expect(state.pendingBytes).toBe(0);
  });
});
