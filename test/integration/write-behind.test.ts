import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { callObserverInterceptor } from '../../src/grpc/call-observer';
import { DEFAULT_WRITE_BEHIND_BYTES, MESSAGE_OVERHEAD_BYTES } from '../../src/grpc/write-behind';
import { CallCounters } from '../../src/observability/call-counters';
import { createLogger } from '../../src/observability/logging';
import { loadRouteGuideProto } from '../../src/protocol/proto';
import { FeatureDatabase } from '../../src/routeguide/features';
import { acceptPreEncodedResponses } from '../../src/service/pre-encoded';
import { createRouteGuideService, DEFAULT_LIST_BATCH_BYTES } from '../../src/service/route-guide';
import { MemoryNotesStore } from '../../src/stores/memory-notes';
import { eventually, settledCount } from '../helpers/calls';
import { syntheticFeatures } from '../helpers/features';
import { connect, frame, openRawStream } from '../helpers/raw-grpc';

// Write-behind confirms a message to grpc-js before the transport has written it. These tests
// check that contract change on a real server, with real HTTP/2 clients that stop reading (a
// paused stream: its window fills and stays full; grpc-js's own client keeps accepting data
// while paused, so it would never stall the server): what the transport holds unwritten stays
// within the window, and the calls still end with the right statuses.
const FEATURES = 50_000;
const LIST_FEATURES = '/routeguide.RouteGuide/ListFeatures';
const WHOLE_WORLD = {
  lo: { latitude: -900_000_000, longitude: -1_800_000_000 },
  hi: { latitude: 900_000_000, longitude: 1_800_000_000 },
};

type InterceptingServerListener = Parameters<grpc.ServerInterceptingCallInterface['start']>[0];

/**
 * What the transport holds for the server: bytes handed to it (counted as write-behind counts
 * them, payload plus {@link MESSAGE_OVERHEAD_BYTES}) whose write has not completed yet. Installed
 * as the first interceptor, next to the transport and below the call observer.
 */
class TransportProbe {
  outstanding = 0;
  maxOutstanding = 0;
  largestMessage = 0;
  sent = 0;

  readonly interceptor: grpc.ServerInterceptor = (_descriptor, call) => new ProbedCall(call, this);

  add(size: number): void {
    this.sent++;
    this.largestMessage = Math.max(this.largestMessage, size);
    this.outstanding += size;
    this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding);
  }
}

class ProbedCall extends grpc.ServerInterceptingCall {
  constructor(
    private readonly inner: grpc.ServerInterceptingCallInterface,
    private readonly probe: TransportProbe,
  ) {
    super(inner);
  }

  override start(listener: InterceptingServerListener): void {
    this.inner.start(listener);
  }

  override sendMessage(message: unknown, callback: () => void): void {
    const size = (message instanceof Uint8Array ? message.length : 0) + MESSAGE_OVERHEAD_BYTES;
    this.probe.add(size);
    this.inner.sendMessage(message, () => {
      this.probe.outstanding -= size;
      callback();
    });
  }
}

/** The length-prefixed gRPC messages of a response body, as it arrives. */
class MessageReader {
  readonly messages: Buffer[] = [];
  private pending = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 5) {
      const length = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + length) return;
      this.messages.push(this.pending.subarray(5, 5 + length));
      this.pending = this.pending.subarray(5 + length);
    }
  }
}

describe('write-behind on a real server, with clients that stop reading', () => {
  const features = FeatureDatabase.fromFeatures(syntheticFeatures(FEATURES));
  const counters = new CallCounters();
  const probe = new TransportProbe();
  const { proto } = loadRouteGuideProto();
  const method = proto.routeguide.RouteGuide.service.ListFeatures;
  const request = frame(method.requestSerialize(WHOLE_WORLD));
  let server: grpc.Server;
  let address: string;
  const sessions: http2.ClientHttp2Session[] = [];

  beforeAll(async () => {
    server = new grpc.Server({
      interceptors: [probe.interceptor, callObserverInterceptor({ counters, replicaId: 'wb' })],
    });
    server.addService(
      acceptPreEncodedResponses(proto.routeguide.RouteGuide.service),
      createRouteGuideService({
        features,
        notes: new MemoryNotesStore(),
        logger: createLogger('silent'),
      }),
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => {
    for (const session of sessions) session.destroy();
    server?.forceShutdown();
  });

  const handled = (code: grpc.status): number =>
    counters.forMethod(LIST_FEATURES, false, true).handled[code] ?? 0;

  /** Opens a whole-world ListFeatures that reads nothing, and waits until the server stops. */
  async function stalledList(): Promise<{
    stream: http2.ClientHttp2Stream;
    status: Promise<number | undefined>;
    sent: number;
  }> {
    const session = await connect(address);
    sessions.push(session);
    probe.maxOutstanding = probe.outstanding;
    const before = probe.sent;
    const { stream, status } = openRawStream(session, LIST_FEATURES, request, {
      headers: { 'grpc-timeout': '30S' },
    });
    stream.pause();
    await eventually(() => probe.sent > before, 5000, 'the first feature');
    const sent = (await settledCount(() => probe.sent)) - before;
    return { stream, status, sent };
  }

  /** The most write-behind may leave with the transport: its window, plus the message that crossed it. */
  const bound = (): number => DEFAULT_WRITE_BEHIND_BYTES + probe.largestMessage;

  it('holds at most the window for a reader that stopped, then delivers every feature and OK when it resumes', async () => {
    const { stream, status, sent } = await stalledList();
    console.log(
      `stalled ListFeatures: ${sent} of ${FEATURES} features sent; the transport held at most ${probe.maxOutstanding} B unwritten (bound ${bound()} B)`,
    );
    expect(sent).toBeLessThan(FEATURES / 2);
    expect(probe.maxOutstanding).toBeLessThanOrEqual(bound());
    // The early confirmations were used: the transport held many messages at once.
    expect(probe.maxOutstanding).toBeGreaterThan(DEFAULT_WRITE_BEHIND_BYTES / 2);

    const reader = new MessageReader();
    stream.on('data', (chunk: Buffer) => reader.push(chunk));
    stream.resume();
    expect(await status).toBe(grpc.status.OK);
    await new Promise((resolve) =>
      stream.closed ? resolve(undefined) : stream.once('close', resolve),
    );
    expect(reader.messages).toHaveLength(FEATURES);
    const latitudes = new Set(
      reader.messages.map((bytes) => method.responseDeserialize(bytes).location?.latitude),
    );
    expect(latitudes.size).toBe(FEATURES);
    await eventually(() => handled(grpc.status.OK) === 1, 5000, 'OK counted');
    expect(probe.maxOutstanding).toBeLessThanOrEqual(bound());
    expect(probe.outstanding).toBe(0);
  });

  it('counts a stalled reader that cancels as CANCELLED, once, and stops sending to it', async () => {
    const { stream } = await stalledList();
    expect(probe.maxOutstanding).toBeLessThanOrEqual(bound());
    const sentAtCancel = probe.sent;
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await eventually(() => handled(grpc.status.CANCELLED) === 1, 5000, 'CANCELLED counted');
    // Sending stops: what was already queued above the transport goes down (and is dropped
    // there), nothing more. grpc-js never confirms the writes a reset stream failed, so what
    // write-behind counted for the call is dropped with the call, not released.
    const flushed = (await settledCount(() => probe.sent)) - sentAtCancel;
    console.log(`cancelled ListFeatures: ${flushed} queued messages flushed after the reset`);
    const queuedAtMost =
      (DEFAULT_WRITE_BEHIND_BYTES + DEFAULT_LIST_BATCH_BYTES) / MESSAGE_OVERHEAD_BYTES;
    expect(flushed).toBeLessThanOrEqual(queuedAtMost + 16);
    expect(handled(grpc.status.OK)).toBe(1);
    expect(handled(grpc.status.INTERNAL)).toBe(0);
  });
});
