import type * as http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { status as Status, type Metadata } from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { ANONYMOUS, AuthFailure, type Authenticator, type Caller } from '../auth/authenticator';
import { attachCaller } from '../auth/call-caller';
import type { AdmissionControl } from '../grpc/admission';
import type { CallCounters } from '../observability/call-counters';
import type { Logger } from '../observability/logging';
import { TRACING_OFF, type ServerSpan, type Tracing } from '../observability/tracing';
import { REPLICA_HEADER } from '../protocol/replica';
import { DEFAULT_REST_MAX_BODY_BYTES } from './defaults';
import { featureBytesToJson } from './feature-json';
import type { HttpBinding } from './http-rules';
import { GatewayError, invalidArgument, statusJson } from './http-status';
import { LocalCall, type AuthContext } from './local-call';
import { MessageJson } from './message-json';
import { MessageSplitter } from './message-splitter';
import { METADATA_HEADER_PREFIX, requestDeadline, requestMetadata } from './request-metadata';
import { RestCall, type ResponseEncoder, type RestCallShared } from './rest-call';
import { Routes, type RouteMatch } from './routes';
import { NDJSON, SERVER_SENT_EVENTS, type StreamFormat } from './stream-writer';
import { WebSocketCall } from './websocket-call';
import { WebSocketServer, type WebSocket } from 'ws';

/** A call in progress on either transport of the REST port. */
type GatewayCall = RestCall | WebSocketCall;

/** A handler as the gRPC server registers it (unary and client streams take a callback). */
export type GrpcHandler = (call: LocalCall, callback?: LocalCall['callback']) => void;

/** The OpenAPI document and Swagger UI (api-docs.ts): answers its own GET routes. */
export interface DocsHandler {
  handle(request: http.IncomingMessage, response: http.ServerResponse): boolean;
}

/** Options for {@link RestGateway}. */
export interface RestGatewayOptions {
  /** The package definition the bindings come from (message types for JSON). */
  readonly packageDefinition: protoLoader.PackageDefinition;
  /** Routes: the `google.api.http` bindings (`httpBindings(packageDefinition)`). */
  readonly bindings: readonly HttpBinding[];
  /** The handler of a gRPC method path: the same instances the gRPC server runs. */
  readonly handler: (grpcPath: string) => GrpcHandler | undefined;
  /** The one authentication policy of both faces. Default: none (every call passes). */
  readonly authenticator?: Authenticator;
  /** The gRPC server's call counters: REST calls count in the same per-method series. */
  readonly counters: CallCounters;
  /** The gRPC server's admission control: REST streams count against the same limits. */
  readonly admission?: AdmissionControl;
  /** Sent as `Grpc-Metadata-X-Routeguide-Replica` on every call's response. */
  readonly replicaId: string;
  /** What `GET /healthz` reports: grpc.health.v1's status of `""`. */
  readonly health: () => string;
  /** Largest request message: an NDJSON line, a JSON array element. */
  readonly maxReceiveMessageBytes: number;
  /** Largest body of a unary call. Default {@link DEFAULT_REST_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
  /** Origins allowed by CORS (`*` for any). Default: none (no CORS headers). */
  readonly corsOrigins?: readonly string[];
  /** Serves `/openapi.json` and `/docs`, asked first for GET requests. Default: none. */
  readonly docs?: DocsHandler;
  /**
   * Server spans of REST calls (children of the request's `traceparent`). Default: off.
   */
  readonly tracing?: Tracing;
  /** Seconds in `Retry-After` of refused calls. Default 1. */
  readonly retryAfterSeconds?: number;
  readonly logger: Logger;
}

/** Header names a CORS preflight may ask for. */
const CORS_ALLOW_HEADERS =
  'Authorization, Content-Type, Grpc-Timeout, Grpc-Metadata-*, Traceparent, Tracestate';
/** ws's documented error code for a message over `maxPayload` (it then closes with 1009). */
const WS_MESSAGE_TOO_BIG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
/** Response headers a browser script may read. */
const CORS_EXPOSE_HEADERS = `WWW-Authenticate, Retry-After, ${METADATA_HEADER_PREFIX}${REPLICA_HEADER}`;

/**
 * The REST face: matches a request to a `google.api.http` binding, maps path, query and body to
 * the request message (proto3 JSON), applies the same policy as the gRPC server — authentication,
 * call counting, admission control of streams, deadlines — and runs the gRPC server's own
 * handler in-process on a {@link LocalCall}. Answers JSON (unary), NDJSON or Server-Sent Events
 * (server streams); errors are `google.rpc.Status` JSON with grpc-gateway's HTTP status table.
 */
export class RestGateway {
  private readonly routes: Routes;
  private readonly json: MessageJson;
  private readonly encoders = new Map<string, ResponseEncoder>();
  private readonly maxBodyBytes: number;
  private readonly tracing: Tracing;
  private readonly corsOrigins: ReadonlySet<string>;
  private readonly shared: RestCallShared;
  /** Calls in progress (for draining at shutdown). */
  private readonly active = new Set<GatewayCall>();
  private readonly websockets: WebSocketServer;
  private draining = false;
  private idle: (() => void) | undefined;

  constructor(private readonly options: RestGatewayOptions) {
    this.routes = new Routes(options.bindings);
    this.json = new MessageJson(options.packageDefinition);
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_REST_MAX_BODY_BYTES;
    this.tracing = options.tracing ?? TRACING_OFF;
    this.corsOrigins = new Set(options.corsOrigins ?? []);
    for (const binding of options.bindings) {
      this.encoders.set(binding.grpcPath, this.responseEncoder(binding));
      if (options.handler(binding.grpcPath) === undefined) {
        throw new Error(`REST gateway: no handler for ${binding.grpcPath}`);
      }
    }
    this.websockets = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxReceiveMessageBytes,
      perMessageDeflate: false,
    });
    const replica = options.replicaId;
    this.shared = {
      counters: options.counters,
      retryAfterSeconds: String(options.retryAfterSeconds ?? 1),
      headers: (request) => ({
        [`${METADATA_HEADER_PREFIX}${REPLICA_HEADER}`]: replica,
        ...this.corsHeaders(request),
      }),
    };
  }

  /** REST calls in progress. */
  get activeCalls(): number {
    return this.active.size;
  }

  /** The HTTP server's request listener. */
  readonly handle = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    try {
      this.route(request, response);
    } catch (error) {
      this.options.logger.error({ err: error }, 'REST request failed');
      if (!response.headersSent)
        this.reply(request, response, 500, statusJson(Status.INTERNAL, 'internal error'));
      else response.destroy();
    }
  };

  /**
   * Stops taking calls (new ones get UNAVAILABLE) and resolves once those in progress have
   * ended, or after `graceMs`, when they are cancelled.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    if (this.active.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const call of [...this.active]) call.cancel(Status.CANCELLED);
    this.websockets.close();
  }

  private route(request: http.IncomingMessage, response: http.ServerResponse): void {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', 'http://rest');
    if (method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
      this.preflight(request, response);
      return;
    }
    // Hook for the OpenAPI document and Swagger UI (api-docs.ts): asked first for every GET or
    // HEAD; it answers `/openapi.json` and `/docs*` and returns false for anything else.
    if ((method === 'GET' || method === 'HEAD') && this.options.docs?.handle(request, response))
      return;
    if (url.pathname === '/healthz') {
      this.healthz(request, response, method);
      return;
    }
    const found = this.routes.lookup(method, url.pathname);
    if (found.kind === 'none') {
      this.reply(
        request,
        response,
        404,
        statusJson(Status.NOT_FOUND, `no route for ${url.pathname}`),
      );
      return;
    }
    if (found.kind === 'wrong-method') {
      response.setHeader('allow', found.allow.join(', '));
      this.reply(
        request,
        response,
        405,
        statusJson(Status.UNIMPLEMENTED, `method ${method} not allowed`),
      );
      return;
    }
    if (this.draining) {
      this.startSpan(found.match.binding, request).end(Status.UNAVAILABLE);
      response.setHeader('connection', 'close');
      this.reply(request, response, 503, statusJson(Status.UNAVAILABLE, 'server shutting down'));
      return;
    }
    this.startCall(request, response, url, found.match);
  }

  private startCall(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    url: URL,
    match: RouteMatch,
  ): void {
    const { binding } = match;
    const counters = this.options.counters.forMethod(
      binding.grpcPath,
      binding.requestStream,
      binding.responseStream,
    );
    const format = binding.responseStream ? streamFormat(request) : undefined;
    const rest = new RestCall(
      request,
      response,
      counters,
      this.shared,
      format,
      this.encoders.get(binding.grpcPath)!,
    );
    this.active.add(rest);
    rest.onEnded = () => {
      this.active.delete(rest);
      this.options.admission?.release(rest);
      if (this.active.size === 0) this.idle?.();
    };
    // The span covers the whole call: one refused before its handler (authentication, bad
    // input, admission) ends it with the status it was refused with.
    const span = this.startSpan(binding, request);
    if (span !== NO_SPAN) whenEnded(rest, (code) => span.end(code));
    response.once('close', () => {
      if (!response.writableFinished) rest.cancel(Status.CANCELLED);
    });
    this.prepare(rest, url, match).then(
      (ready) => {
        if (ready !== undefined && !rest.ended) this.run(rest, binding, ready, span);
      },
      (error: unknown) => this.refuse(rest, error),
    );
  }

  /** Counts a call as in progress until it ends, then releases its admission. */
  private track(call: GatewayCall): void {
    this.active.add(call);
    call.onEnded = () => {
      this.active.delete(call);
      this.options.admission?.release(call);
      if (this.active.size === 0) this.idle?.();
    };
  }

  /** Admission control of a streaming call; false (and the call failed) when refused. */
  private admit(call: GatewayCall, binding: HttpBinding): boolean {
    const admission = this.options.admission;
    if (admission === undefined || !admission.governs(binding.service)) return true;
    if (!binding.requestStream && !binding.responseStream) return true;
    const refused = admission.admit(call);
    if (refused === undefined) return true;
    const status = admission.status(refused);
    call.fail(status.code, status.details);
    return false;
  }

  /** Authentication, request message, deadline and admission: what runs before the handler. */
  private async prepare(
    rest: RestCall,
    url: URL,
    match: RouteMatch,
  ): Promise<PreparedCall | undefined> {
    const { request } = rest;
    const { binding } = match;
    const deadline = requestDeadline(request.headers['grpc-timeout']);
    const authorization = this.authorization(request, url, rest);
    const caller = await this.authenticate(binding, authorization);
    const message = binding.requestStream ? {} : await this.requestMessage(rest, url, match);
    if (rest.ended || !this.admit(rest, binding)) return undefined;
    return { message, deadline, authorization, caller };
  }

  /** The caller of a call, by the one policy both faces share; ANONYMOUS without one. */
  private async authenticate(
    binding: HttpBinding,
    authorization: string | undefined,
  ): Promise<Caller> {
    const authenticator = this.options.authenticator;
    if (authenticator === undefined) return ANONYMOUS;
    return authenticator.authenticate({ grpcPath: binding.grpcPath, authorization });
  }

  /**
   * The caller's credential: the `Authorization` header, or for an `EventSource` (which cannot
   * set headers) an `access_token` query parameter, which is accepted on no other request.
   */
  private authorization(
    request: http.IncomingMessage,
    url: URL,
    rest: RestCall,
  ): string | undefined {
    const header = request.headers.authorization;
    if (header !== undefined) return header;
    const token = url.searchParams.get('access_token');
    if (token === null) return undefined;
    if (!acceptsEventStream(request) || rest.request.method !== 'GET') {
      throw invalidArgument(
        'access_token: accepted only on Server-Sent Events and WebSocket requests',
      );
    }
    return `Bearer ${token}`;
  }

  private async requestMessage(rest: RestCall, url: URL, match: RouteMatch): Promise<unknown> {
    const { binding } = match;
    const type = binding.requestType;
    let message: Record<string, unknown>;
    if (binding.body === undefined) {
      message = this.json.empty(type);
    } else {
      const body = parseJson(await readBody(rest.request, this.maxBodyBytes));
      if (binding.body === '*') {
        message = this.json.fromJson(type, body);
      } else {
        message = this.json.empty(type);
        message[binding.body] = (
          this.json.fromJson(type, { [binding.body]: body }) as Record<string, unknown>
        )[binding.body];
      }
    }
    for (const variable of match.variables) {
      this.json.setFromText(type, message, variable.fieldPath, variable.value);
    }
    if (binding.body !== '*') {
      for (const [key, value] of url.searchParams) {
        if (key === 'access_token') continue;
        this.json.setFromText(type, message, key.split('.'), value);
      }
    }
    return message;
  }

  /** Runs the handler on a local call fed by the HTTP request. */
  private run(rest: RestCall, binding: HttpBinding, ready: PreparedCall, span: ServerSpan): void {
    const { request } = rest;
    const socket = request.socket;
    const call = new LocalCall({
      path: binding.grpcPath,
      request: ready.message,
      metadata: callMetadata(request, ready.authorization, ready.caller),
      deadline: ready.deadline,
      peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`,
      host: `${socket.localAddress ?? ''}:${socket.localPort ?? 0}`,
      authContext: tlsAuthContext(socket),
      responder: rest,
      onReadMore: () => request.resume(),
    });
    rest.call = call;
    if (ready.deadline !== Infinity) this.watchDeadline(rest, ready.deadline);
    if (binding.requestStream) this.feed(rest, call, binding.requestType);
    const handler = this.options.handler(binding.grpcPath)!;
    try {
      span.run(() => {
        if (binding.responseStream) handler(call);
        else handler(call, call.callback);
      });
    } catch (error) {
      this.options.logger.error(
        { err: error, method: binding.grpcPath, ...subjectField(ready.caller) },
        'handler failed',
      );
      rest.fail(Status.INTERNAL, 'internal error');
      call.cancel();
    }
  }

  /**
   * The call's server span, named as the gRPC instrumentation names it; tracing off, a shared
   * no-op built from nothing.
   */
  private startSpan(binding: HttpBinding, request: http.IncomingMessage): ServerSpan {
    if (!this.tracing.enabled) return NO_SPAN;
    const headers = request.headers;
    return this.tracing.startServerSpan(
      `grpc.${binding.grpcPath.slice(1)}`,
      {
        traceparent: headerText(headers.traceparent),
        tracestate: headerText(headers.tracestate),
      },
      {
        'rpc.system': 'grpc',
        'rpc.service': binding.service,
        'rpc.method': binding.method,
        'http.request.method': request.method,
        'url.path': request.url?.split('?')[0],
        'network.peer.address': request.socket.remoteAddress,
        'network.peer.port': request.socket.remotePort,
      },
    );
  }

  private watchDeadline(rest: GatewayCall, deadline: number): void {
    const timer = setTimeout(
      () => rest.cancel(Status.DEADLINE_EXCEEDED),
      Math.max(0, deadline - Date.now()),
    );
    whenEnded(rest, () => clearTimeout(timer));
  }

  /**
   * Streams the HTTP body into the call as request messages, one per NDJSON line or JSON array
   * element, pausing the body while the handler's read buffer is full.
   */
  private feed(rest: RestCall, call: LocalCall, type: string): void {
    const { request } = rest;
    const splitter = new MessageSplitter(this.options.maxReceiveMessageBytes);
    let index = 0;
    const deliver = (texts: string[]): boolean => {
      if (rest.ended) {
        // The call is over (the handler failed early): the rest of the body is not read.
        request.off('data', onData);
        return false;
      }
      for (const text of texts) {
        const message = this.json.fromJson(
          type,
          parseJson(text, `message ${index}`),
          `message[${index}]`,
        );
        index++;
        rest.method.received++;
        if (!call.pushMessage(message)) request.pause();
      }
      return !rest.ended;
    };
    const stop = (error: unknown): void => {
      request.off('data', onData);
      request.resume();
      this.refuse(rest, error);
      call.cancel();
    };
    const onData = (chunk: Buffer): void => {
      try {
        deliver(splitter.push(chunk));
      } catch (error) {
        stop(error);
      }
    };
    request.on('data', onData);
    request.once('end', () => {
      try {
        if (deliver(splitter.end())) call.endRequest();
      } catch (error) {
        stop(error);
      }
    });
  }

  /** Ends a call refused before (or while feeding) its handler with the error's status. */
  private refuse(call: GatewayCall, error: unknown): void {
    if (error instanceof GatewayError) {
      if (call instanceof RestCall) {
        call.fail(error.code, error.message, { ...error.headers }, error.httpStatus);
      } else {
        call.fail(error.code, error.message);
      }
    } else if (error instanceof AuthFailure) {
      const { service, method } = call.method;
      this.options.logger.debug(
        { method: `/${service}/${method}`, kind: error.kind, reason: error.message },
        'call refused',
      );
      const code = AUTH_FAILURE_CODES[error.kind];
      if (call instanceof RestCall) {
        const challenge: Record<string, string> = error.challenge
          ? { 'www-authenticate': error.challenge }
          : {};
        call.fail(code, error.message, challenge);
      } else {
        call.fail(code, error.message);
      }
    } else {
      this.options.logger.error({ err: error }, 'REST call failed');
      call.fail(Status.INTERNAL, 'internal error');
    }
  }

  /**
   * The HTTP server's 'upgrade' listener: a WebSocket on the path of a bidirectional streaming
   * method (RouteChat's `/v1/notes:chat`) runs it full duplex; anything else is refused with an
   * HTTP error before the upgrade.
   */
  readonly handleUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const url = new URL(request.url ?? '/', 'http://rest');
    const match = this.routes.matchPath(url.pathname);
    const bidi = match !== undefined && match.binding.requestStream && match.binding.responseStream;
    const refusal =
      request.headers.upgrade?.toLowerCase() !== 'websocket'
        ? '400 Bad Request'
        : !bidi
          ? '404 Not Found'
          : !this.websocketOriginAllowed(request)
            ? '403 Forbidden'
            : this.draining
              ? '503 Service Unavailable'
              : undefined;
    if (refusal !== undefined) {
      // A call of the method refused before its handshake still gets its span.
      const code = bidi ? UPGRADE_REFUSAL_CODES[refusal] : undefined;
      if (code !== undefined) this.startSpan(match!.binding, request).end(code);
      socket.end(`HTTP/1.1 ${refusal}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    this.websockets.handleUpgrade(request, socket, head, (ws) =>
      this.startWebSocketCall(ws, request, url, match!),
    );
  };

  private startWebSocketCall(
    ws: WebSocket,
    request: http.IncomingMessage,
    url: URL,
    match: RouteMatch,
  ): void {
    const { binding } = match;
    const counters = this.options.counters.forMethod(binding.grpcPath, true, true);
    const encode = this.encoders.get(binding.grpcPath)!;
    const wsCall = new WebSocketCall(ws, request, counters, this.options.counters, encode);
    this.track(wsCall);
    const span = this.startSpan(binding, request);
    if (span !== NO_SPAN) whenEnded(wsCall, (code) => span.end(code));
    // After an 'error' ws closes the socket itself (1009: a message over maxPayload).
    ws.on('error', (error: Error & { code?: string }) => this.websocketError(wsCall, error));
    ws.once('close', () => wsCall.cancel(Status.CANCELLED));
    const start = async (): Promise<void> => {
      const deadline = requestDeadline(request.headers['grpc-timeout']);
      // Browsers cannot set Authorization on a WebSocket: access_token is accepted here.
      const token = url.searchParams.get('access_token');
      const authorization =
        request.headers.authorization ?? (token === null ? undefined : `Bearer ${token}`);
      const caller = await this.authenticate(binding, authorization);
      if (wsCall.ended || !this.admit(wsCall, binding)) return;
      const socket = request.socket;
      const call = new LocalCall({
        path: binding.grpcPath,
        request: {},
        metadata: callMetadata(request, authorization, caller),
        deadline,
        peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`,
        host: `${socket.localAddress ?? ''}:${socket.localPort ?? 0}`,
        authContext: tlsAuthContext(socket),
        responder: wsCall,
        onReadMore: () => ws.resume(),
      });
      wsCall.call = call;
      if (deadline !== Infinity) this.watchDeadline(wsCall, deadline);
      this.feedWebSocket(ws, wsCall, call, binding.requestType);
      span.run(() => this.options.handler(binding.grpcPath)!(call));
    };
    start().catch((error: unknown) => {
      this.refuse(wsCall, error);
      wsCall.call?.cancel();
    });
  }

  /**
   * A message over the limit ends the call RESOURCE_EXHAUSTED, as over gRPC and in an NDJSON
   * body (ws has closed the socket with 1009); any other socket error cancels it.
   */
  private websocketError(wsCall: WebSocketCall, error: Error & { code?: string }): void {
    if (error.code !== WS_MESSAGE_TOO_BIG) {
      wsCall.cancel(Status.CANCELLED);
      return;
    }
    const limit = this.options.maxReceiveMessageBytes;
    wsCall.fail(Status.RESOURCE_EXHAUSTED, `a message is larger than ${limit} bytes`);
    wsCall.call?.cancel();
  }

  /**
   * Request messages from WebSocket text messages, one JSON message each; an empty message ends
   * the client's side (half-close). The socket is paused while the handler's read buffer is full.
   */
  private feedWebSocket(ws: WebSocket, wsCall: WebSocketCall, call: LocalCall, type: string): void {
    let index = 0;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (wsCall.ended) return;
      try {
        if (isBinary) throw invalidArgument(`message ${index}: must be a text message`);
        const text = data.toString('utf8');
        if (text === '') {
          call.endRequest();
          return;
        }
        const json = parseJson(text, `message ${index}`);
        const message = this.json.fromJson(type, json, `message[${index}]`);
        index++;
        wsCall.method.received++;
        if (!call.pushMessage(message)) ws.pause();
      } catch (error) {
        this.refuse(wsCall, error);
        call.cancel();
      }
    });
  }

  private healthz(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    method: string,
  ): void {
    if (method !== 'GET' && method !== 'HEAD') {
      response.setHeader('allow', 'GET, HEAD');
      this.reply(
        request,
        response,
        405,
        statusJson(Status.UNIMPLEMENTED, `method ${method} not allowed`),
      );
      return;
    }
    const status = this.options.health();
    this.reply(request, response, status === 'SERVING' ? 200 : 503, { status });
  }

  private preflight(request: http.IncomingMessage, response: http.ServerResponse): void {
    const headers = this.corsHeaders(request);
    if (headers['access-control-allow-origin'] !== undefined) {
      Object.assign(headers, {
        'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
        'access-control-allow-headers': CORS_ALLOW_HEADERS,
        'access-control-max-age': '600',
      });
    }
    response.writeHead(204, headers).end();
  }

  /**
   * Whether a WebSocket upgrade may proceed given its `Origin`. Browsers send a WebSocket to any
   * origin and CORS does not apply, so the server decides (RFC 6455 §10.2): no `Origin` (not a
   * browser), the page's own origin (same host and port as the request's `Host`), or an origin
   * listed in REST_CORS_ORIGINS (`*`: any). Anything else, `null` included, is a page of another
   * site riding on the browser's ambient credentials (a client certificate): refused `403`.
   */
  private websocketOriginAllowed(request: http.IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (this.corsOrigins.has('*') || this.corsOrigins.has(origin)) return true;
    try {
      return new URL(origin).host === request.headers.host;
    } catch {
      return false;
    }
  }

  /** CORS response headers for an allowed `Origin`; none for others. */
  private corsHeaders(request: http.IncomingMessage): Record<string, string> {
    const origin = request.headers.origin;
    if (origin === undefined || this.corsOrigins.size === 0) return {};
    if (!this.corsOrigins.has(origin) && !this.corsOrigins.has('*')) return {};
    return {
      'access-control-allow-origin': origin,
      'access-control-expose-headers': CORS_EXPOSE_HEADERS,
      vary: 'Origin',
    };
  }

  private reply(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    status: number,
    body: unknown,
  ): void {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      ...this.corsHeaders(request),
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    response.end(request.method === 'HEAD' ? undefined : text);
  }

  /** A method's response encoder: Feature bytes by hand, other bytes decoded, objects as JSON. */
  private responseEncoder(binding: HttpBinding): ResponseEncoder {
    const type = binding.responseType;
    const definition = this.options.packageDefinition[
      binding.service
    ] as protoLoader.ServiceDefinition;
    const deserialize = definition[binding.method]!.responseDeserialize;
    const fromBytes =
      type === 'routeguide.Feature'
        ? featureBytesToJson
        : (bytes: Uint8Array) =>
            JSON.stringify(
              this.json.toJson(type, deserialize(Buffer.from(bytes)) as Record<string, unknown>),
            );
    return (message) =>
      message instanceof Uint8Array
        ? fromBytes(message)
        : JSON.stringify(this.json.toJson(type, message as Record<string, unknown>));
  }
}

/** What runs a call once authentication, its request message and admission have passed. */
interface PreparedCall {
  readonly message: unknown;
  readonly deadline: number;
  readonly authorization: string | undefined;
  readonly caller: Caller;
}

/**
 * A call's request metadata with its caller on it, as the gRPC auth interceptor leaves it: the
 * handlers' wrappers (span `enduser.id`, log lines) read the subject from there on both faces.
 */
function callMetadata(
  request: http.IncomingMessage,
  authorization: string | undefined,
  caller: Caller,
): Metadata {
  const metadata = requestMetadata(request, authorization);
  if (caller !== ANONYMOUS) attachCaller(metadata, caller);
  return metadata;
}

/**
 * What grpc-js's `getAuthContext()` reports of a connection: `ssl` and the client certificate
 * (the mTLS subject handlers' wrappers put on spans), nothing for plaintext.
 */
function tlsAuthContext(socket: net.Socket): AuthContext {
  if (!(socket instanceof TLSSocket)) return {};
  const certificate = socket.getPeerCertificate();
  return {
    transportSecurityType: 'ssl',
    ...(certificate.subject !== undefined ? { sslPeerCertificate: certificate } : {}),
  };
}

/** The caller's subject as a log field, when known. */
function subjectField(caller: Caller): { subject?: string } {
  return caller.subject === undefined ? {} : { subject: caller.subject };
}

/** Adds `fn` to what runs when `call` ends. */
function whenEnded(call: GatewayCall, fn: (code: number) => void): void {
  const previous = call.onEnded;
  call.onEnded = (code) => {
    previous?.(code);
    fn(code);
  };
}

/** The span of a call while tracing is off (one frozen object for every call). */
const NO_SPAN: ServerSpan = TRACING_OFF.startServerSpan('', {}, {});

/** The gRPC status of a WebSocket upgrade of a method refused before its handshake. */
const UPGRADE_REFUSAL_CODES: Readonly<Record<string, number>> = Object.freeze({
  '403 Forbidden': Status.PERMISSION_DENIED,
  '503 Service Unavailable': Status.UNAVAILABLE,
});

const AUTH_FAILURE_CODES = Object.freeze({
  unauthenticated: Status.UNAUTHENTICATED,
  'permission-denied': Status.PERMISSION_DENIED,
  unavailable: Status.UNAVAILABLE,
});

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function acceptsEventStream(request: http.IncomingMessage): boolean {
  return (request.headers.accept ?? '').includes('text/event-stream');
}

function streamFormat(request: http.IncomingMessage): StreamFormat {
  return acceptsEventStream(request) ? SERVER_SENT_EVENTS : NDJSON;
}

function parseJson(text: string, what = 'body'): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalidArgument(`${what}: invalid JSON (${(error as Error).message})`);
  }
}

/** The whole body of a unary call, at most `limit` bytes (else RESOURCE_EXHAUSTED, HTTP 413). */
function readBody(request: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.resume();
        reject(
          new GatewayError(Status.RESOURCE_EXHAUSTED, `body: larger than ${limit} bytes`, 413),
        );
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}
