import type { ServerInterceptingCallInterface } from '@grpc/grpc-js';
import { sendWriteBehind, type WriteBehindState } from '../../src/grpc/write-behind';

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
    for (let i = 0; i < 5; i++) {
      sendWriteBehind(state, next, Buffer.alloc(40), () => confirmed.push(i), 100);
    }
    // 40 + 40 fit in 100 bytes; the third and later wait for their own write.
    expect(confirmed).toEqual([0, 1]);
    expect(writes).toHaveLength(5);
    expect(state.pendingBytes).toBe(200);

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
    sendWriteBehind(state, next, Buffer.alloc(100), () => confirmed.push(5), 100);
    expect(confirmed).toContain(5);
  });

  it('hands every message down in order, exactly once', () => {
    const { next, writes } = transport();
    const state: WriteBehindState = { pendingBytes: 0 };
    const messages = Array.from({ length: 50 }, (_, i) => Buffer.from([i]));
    for (const message of messages) sendWriteBehind(state, next, message, () => {}, 10);
    expect(writes.map((w) => w.message)).toEqual(messages);
  });

  it('a message larger than the window waits for its write', () => {
    const { next, writes } = transport();
    const state: WriteBehindState = { pendingBytes: 0 };
    let confirmed = false;
    sendWriteBehind(state, next, Buffer.alloc(101), () => (confirmed = true), 100);
    expect(confirmed).toBe(false);
    writes[0]!.complete();
    expect(confirmed).toBe(true);
  });

  it('messages that are not bytes (size unknown) are confirmed when written, as grpc-js does', () => {
    const { next, writes } = transport();
    const state: WriteBehindState = { pendingBytes: 0 };
    let confirmed = false;
    const message = { name: 'an object' };
    sendWriteBehind(state, next, message, () => (confirmed = true), 1 << 20);
    expect(confirmed).toBe(false);
    expect(state.pendingBytes).toBe(0);
    writes[0]!.complete();
    expect(confirmed).toBe(true);
  });

  it('a window of 0 turns it off', () => {
    const { next, writes } = transport();
    const state: WriteBehindState = { pendingBytes: 0 };
    let confirmed = false;
    sendWriteBehind(state, next, Buffer.alloc(1), () => (confirmed = true), 0);
    expect(confirmed).toBe(false);
    writes[0]!.complete();
    expect(confirmed).toBe(true);
  });
});
