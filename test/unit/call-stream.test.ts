import { assertCallStreamReachable } from '../../src/grpc/call-stream';

describe('assertCallStreamReachable', () => {
  it('passes with the pinned grpc-js', () => {
    expect(() => assertCallStreamReachable()).not.toThrow();
  });

  it('throws, naming the field, when grpc-js keeps the HTTP/2 stream elsewhere', () => {
    class Moved {
      readonly http2Stream: unknown;
      constructor(stream: unknown) {
        this.http2Stream = stream;
      }
    }
    expect(() => assertCallStreamReachable(Moved as never)).toThrow(/HTTP\/2 stream in `stream`/);
    class Broken {
      constructor() {
        throw new Error('new signature');
      }
    }
    expect(() => assertCallStreamReachable(Broken as never)).toThrow(/new signature/);
  });
});
