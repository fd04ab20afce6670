import { Duplex, Readable } from 'node:stream';
import * as readAhead from '../../src/service/read-ahead';
import { assertReadAheadSupported, limitReadAhead } from '../../src/service/read-ahead';
import { createRouteGuideService } from '../../src/service/route-guide';

describe('limitReadAhead', () => {
  it("lowers an object-mode stream's read-ahead to the given number of messages", () => {
    const stream = new Duplex({
      objectMode: true,
      read() {},
      write(_chunk, _encoding, done) {
        done();
      },
    });
    expect(stream.readableHighWaterMark).toBe(16);
    limitReadAhead(stream, 1);
    expect(stream.readableHighWaterMark).toBe(1);
  });

  it('asks its source for that many messages while paused, where Node asks for 16', async () => {
    const askedWhilePaused = async (limit: number | undefined): Promise<number> => {
      let asked = 0;
      const stream = new Readable({
        objectMode: true,
        read() {
          asked++;
          this.push({ n: asked });
        },
      });
      if (limit !== undefined) limitReadAhead(stream, limit);
      stream.on('data', () => {});
      stream.pause();
      await new Promise((resolve) => setTimeout(resolve, 20));
      stream.destroy();
      return asked;
    };
    expect(await askedWhilePaused(undefined)).toBe(16);
    expect(await askedWhilePaused(1)).toBe(1);
  });
});

describe('assertReadAheadSupported', () => {
  it("passes with this Node's Readable", () => {
    expect(() => assertReadAheadSupported()).not.toThrow();
  });

  it('throws, naming the field, when Node keeps the bound elsewhere', () => {
    class Moved {
      readonly readableHighWaterMark = 16;
      readonly _readableState = { hwm: 16 };
    }
    expect(() => assertReadAheadSupported(Moved as never)).toThrow(/_readableState\.highWaterMark/);
    class Detached {
      readonly readableHighWaterMark = 16;
      readonly _readableState = { highWaterMark: 16 };
    }
    expect(() => assertReadAheadSupported(Detached as never)).toThrow(/read-ahead/);
  });

  it('runs when the RouteGuide service is built', () => {
    const assertion = jest.spyOn(readAhead, 'assertReadAheadSupported');
    try {
      createRouteGuideService({ features: {} as never, notes: {} as never, logger: {} as never });
      expect(assertion).toHaveBeenCalledTimes(1);
    } finally {
      assertion.mockRestore();
    }
  });
});
