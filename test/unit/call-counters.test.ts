import { status } from '@grpc/grpc-js';
import { CallCounters, goCodeName, grpcType } from '../../src/observability/call-counters';

describe('CallCounters', () => {
  it('counts handled and failed calls in totals(), per method and code, with a histogram', () => {
    const counters = new CallCounters();
    const get = counters.forMethod('/routeguide.RouteGuide/GetFeature', false, false);
    expect(counters.forMethod('/routeguide.RouteGuide/GetFeature', false, false)).toBe(get);
    const chat = counters.forMethod('/routeguide.RouteGuide/RouteChat', true, true);
    expect([get.type, get.service, get.method]).toEqual([
      'unary',
      'routeguide.RouteGuide',
      'GetFeature',
    ]);
    expect(chat.type).toBe('bidi_stream');
    expect(counters.totals()).toEqual({ handled: 0, failed: 0 });

    counters.handled(get, status.OK, 1); // ≤ 5 ms bucket
    counters.handled(get, status.OK, 7); // ≤ 10 ms
    counters.handled(get, status.INVALID_ARGUMENT, 20_000); // +Inf
    counters.handled(chat, 99, 0);

    expect(counters.totals()).toEqual({ handled: 4, failed: 2 });
    expect(get.handled[status.OK]).toBe(2);
    expect(get.handled[status.INVALID_ARGUMENT]).toBe(1);
    expect(chat.handledOther.get(99)).toBe(1);
    expect(get.buckets[0]).toBe(1);
    expect(get.buckets[1]).toBe(1);
    expect(get.buckets.at(-1)).toBe(1);
    expect(get.handledCount).toBe(3);
    expect(get.handlingSeconds).toBeCloseTo(20.008, 9);
    expect([...counters.all()]).toEqual([get, chat]);
  });

  it('names codes and types as go-grpc-prometheus does', () => {
    expect(goCodeName(status.CANCELLED)).toBe('Canceled');
    expect(goCodeName(status.UNAUTHENTICATED)).toBe('Unauthenticated');
    expect(goCodeName(42)).toBe('Code(42)');
    expect(grpcType(true, false)).toBe('client_stream');
    expect(grpcType(false, true)).toBe('server_stream');
  });
});
