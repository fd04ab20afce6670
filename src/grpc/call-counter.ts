import * as grpc from '@grpc/grpc-js';
import type { CallTotals } from './orca';

/**
 * Counts finished calls with no per-call allocation beyond grpc-js's own intercepting call;
 * the source of {@link CallTotals} when the metrics interceptor (which counts too) is off.
 * Put its interceptor first, next to the transport.
 */
export class CallCounter {
  private handled = 0;
  private failed = 0;
  private readonly responder = new grpc.ResponderBuilder()
    .withSendStatus((status, next) => {
      this.handled += 1;
      if (status.code !== grpc.status.OK) this.failed += 1;
      next(status);
    })
    .build();

  totals(): CallTotals {
    return { handled: this.handled, failed: this.failed };
  }

  interceptor(): grpc.ServerInterceptor {
    return (_method, call) => new grpc.ServerInterceptingCall(call, this.responder);
  }
}
