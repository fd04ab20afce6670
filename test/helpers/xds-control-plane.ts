import type { Socket } from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { onTcpConnection } from '../../src/grpc/http2-sessions';

/** The envoy/xds protos ship inside @grpc/grpc-js-xds. */
const XDS_DEPS = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

export const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const CLIENT_SIDE_WRR =
  'type.googleapis.com/envoy.extensions.load_balancing_policies.client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin';
const TYPES = [LDS, RDS, CDS, EDS] as const;
type TypeUrl = (typeof TYPES)[number];

/** Resource messages as plain objects; `@type` makes protobufjs pack them into Any. */
type Resource = Record<string, unknown>;

interface DiscoveryRequest {
  version_info: string;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail: { message: string } | null;
}

interface StreamState {
  readonly call: grpc.ServerDuplexStream<DiscoveryRequest, Record<string, unknown>>;
  /** Subscribed resource names per type. */
  readonly names: Map<TypeUrl, string[]>;
  /** Version last sent per type. */
  readonly sent: Map<TypeUrl, number>;
}

function loadAds(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync(
    [
      'envoy/service/discovery/v3/ads.proto',
      'envoy/config/listener/v3/listener.proto',
      'envoy/config/route/v3/route.proto',
      'envoy/config/cluster/v3/cluster.proto',
      'envoy/config/endpoint/v3/endpoint.proto',
      'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
      'envoy/extensions/filters/http/router/v3/router.proto',
      'envoy/extensions/load_balancing_policies/client_side_weighted_round_robin/v3/client_side_weighted_round_robin.proto',
    ],
    {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
      json: true,
      includeDirs: ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) =>
        path.join(XDS_DEPS, d),
      ),
    },
  );
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    envoy: {
      service: {
        discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } };
      };
    };
  };
  return loaded.envoy.service.discovery.v3.AggregatedDiscoveryService.service;
}

/**
 * A minimal state-of-the-world xDS (ADS) management server, as Istio or Traffic Director would
 * be: it holds Listener, RouteConfiguration, Cluster and ClusterLoadAssignment resources and
 * pushes every change to the subscribed clients. Tests only; loopback only.
 */
export class XdsControlPlane {
  private readonly server = new grpc.Server();
  private readonly resources = new Map<TypeUrl, Map<string, Resource>>(
    TYPES.map((t) => [t, new Map()]),
  );
  private readonly versions = new Map<TypeUrl, number>(TYPES.map((t) => [t, 0]));
  private readonly streams = new Set<StreamState>();
  private readonly sockets = new Set<Socket>();
  /** NACKs received (client rejected a resource), for assertions. */
  readonly nacks: string[] = [];
  private port: number | undefined;

  constructor() {
    this.server.addService(loadAds(), {
      StreamAggregatedResources: (call: StreamState['call']) => this.stream(call),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<unknown, unknown>) =>
        call.emit('error', { code: grpc.status.UNIMPLEMENTED, details: 'SotW only' }),
    });
  }

  async start(): Promise<void> {
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) =>
        e ? reject(e) : resolve(port),
      ),
    );
    onTcpConnection(this.server, (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Bootstrap JSON for GRPC_XDS_BOOTSTRAP_CONFIG pointing at this server. */
  bootstrap(): string {
    if (this.port === undefined) throw new Error('control plane not started');
    return JSON.stringify({
      xds_servers: [
        {
          server_uri: `127.0.0.1:${this.port}`,
          channel_creds: [{ type: 'insecure' }],
          server_features: ['xds_v3'],
        },
      ],
      node: { id: 'routeguide-test-client', locality: {} },
    });
  }

  /**
   * Publishes a whole service: `listener` (the xds:/// target name) → route → cluster (round
   * robin, or client-side weighted round robin on ORCA out-of-band reports) → endpoints at
   * `addresses` (`127.0.0.1:port`).
   *
   * Weighted round robin goes in the cluster's `load_balancing_policy` directly, not inside
   * `WrrLocality` as gRFC A52 has it: grpc-js-xds 1.14.1 registers its WrrLocality converter
   * under a type URL without the `type.googleapis.com/` prefix (so it never matches) and emits a
   * config its own policy does not take. One locality makes the difference moot. The client
   * needs `GRPC_EXPERIMENTAL_XDS_WRR_LB=true` for the policy to be recognised at all.
   */
  setService(
    listener: string,
    addresses: readonly string[],
    options: { lbPolicy?: 'round_robin' | 'weighted_round_robin' } = {},
  ): void {
    const route = `${listener}-route`;
    const cluster = `${listener}-cluster`;
    const endpoints = `${listener}-endpoints`;
    this.set(LDS, listener, {
      name: listener,
      api_listener: {
        api_listener: {
          '@type': HCM,
          rds: { route_config_name: route, config_source: { ads: {} } },
          http_filters: [{ name: 'router', typed_config: { '@type': ROUTER } }],
        },
      },
    });
    this.set(RDS, route, {
      name: route,
      virtual_hosts: [{ domains: ['*'], routes: [{ match: { prefix: '' }, route: { cluster } }] }],
    });
    this.set(CDS, cluster, {
      name: cluster,
      type: 'EDS',
      eds_cluster_config: { eds_config: { ads: {} }, service_name: endpoints },
      lb_policy: 'ROUND_ROBIN',
      ...(options.lbPolicy === 'weighted_round_robin'
        ? {
            load_balancing_policy: {
              policies: [
                {
                  typed_extension_config: {
                    name: 'envoy.load_balancing_policies.client_side_weighted_round_robin',
                    typed_config: {
                      '@type': CLIENT_SIDE_WRR,
                      enable_oob_load_report: { value: true },
                      oob_reporting_period: { seconds: 1 },
                      blackout_period: { seconds: 1 },
                      weight_update_period: { nanos: 500_000_000 },
                    },
                  },
                },
              ],
            },
          }
        : {}),
    });
    this.setEndpoints(endpoints, addresses);
  }

  /** Replaces the endpoints of a ClusterLoadAssignment (one locality). */
  setEndpoints(name: string, addresses: readonly string[]): void {
    this.set(EDS, name, {
      cluster_name: name,
      endpoints: [
        {
          locality: { region: 'local', zone: 'a' },
          load_balancing_weight: { value: 1 },
          lb_endpoints: addresses.map((address) => {
            const [host, port] = address.split(':');
            return {
              health_status: 'HEALTHY',
              endpoint: {
                address: { socket_address: { address: host, port_value: Number(port) } },
              },
            };
          }),
        },
      ],
    });
  }

  private set(type: TypeUrl, name: string, resource: Resource): void {
    this.resources.get(type)!.set(name, { '@type': type, ...resource });
    this.versions.set(type, this.versions.get(type)! + 1);
    for (const stream of this.streams) if (stream.names.has(type)) this.send(stream, type);
  }

  private send(stream: StreamState, type: TypeUrl): void {
    const version = this.versions.get(type)!;
    const wanted = stream.names.get(type) ?? [];
    const all = this.resources.get(type)!;
    // An empty list subscribes to everything (LDS/CDS wildcard).
    const resources =
      wanted.length === 0
        ? [...all.values()]
        : wanted.flatMap((n) => (all.has(n) ? [all.get(n)!] : []));
    stream.sent.set(type, version);
    stream.call.write({
      version_info: String(version),
      nonce: `${type}-${version}`,
      type_url: type,
      resources,
    });
  }

  private stream(call: StreamState['call']): void {
    const state: StreamState = { call, names: new Map(), sent: new Map() };
    this.streams.add(state);
    call.on('data', (request: DiscoveryRequest) => {
      const type = request.type_url as TypeUrl;
      if (!TYPES.includes(type)) return;
      if (request.error_detail) this.nacks.push(request.error_detail.message);
      const before = (state.names.get(type) ?? []).join('\0');
      state.names.set(type, [...request.resource_names].sort());
      const namesChanged = before !== state.names.get(type)!.join('\0');
      // Answer a new subscription or changed names; an ACK/NACK of what we sent needs nothing.
      if (namesChanged || state.sent.get(type) === undefined) this.send(state, type);
    });
    const done = () => {
      this.streams.delete(state);
      call.end();
    };
    call.on('end', done);
    call.on('error', () => this.streams.delete(state));
  }

  /**
   * Ends every ADS stream and shuts the server down. Once a connection's HTTP/2 session has closed,
   * Node 24 ends the socket and then waits for the peer's FIN (Node 20 destroyed it); grpc-js-xds's
   * ADS channel lives on in the process and never sends one, so the server would never finish
   * closing. Each socket is therefore destroyed as soon as our side of it has finished.
   */
  async stop(): Promise<void> {
    for (const stream of this.streams) stream.call.end();
    this.streams.clear();
    for (const socket of this.sockets) {
      if (socket.writableFinished) socket.destroy();
      else socket.once('finish', () => socket.destroy());
    }
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
