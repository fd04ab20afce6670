import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** A load report as a grpc-js client decodes it (the fields this server fills in). */
export interface OrcaReport {
  cpu_utilization: number;
  application_utilization: number;
  rps_fractional: number;
  eps: number;
}

const PROTO_DIR = path.resolve(path.dirname(require.resolve('@grpc/grpc-js')), '..', '..', 'proto');

/** An `xds.service.orca.v3.OpenRcaService` client, from the protos grpc-js ships. */
export function orcaClient(address: string): grpc.Client & {
  StreamCoreMetrics(request: {
    report_interval?: { seconds: number; nanos: number };
  }): grpc.ClientReadableStream<OrcaReport>;
} {
  const definition = protoLoader.loadSync('xds/service/orca/v3/orca.proto', {
    keepCase: true,
    longs: String,
    defaults: true,
    oneofs: true,
    includeDirs: [path.join(PROTO_DIR, 'xds'), path.join(PROTO_DIR, 'protoc-gen-validate')],
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    xds: { service: { orca: { v3: { OpenRcaService: grpc.ServiceClientConstructor } } } };
  };
  const Client = loaded.xds.service.orca.v3.OpenRcaService;
  return new Client(address, grpc.credentials.createInsecure()) as unknown as ReturnType<
    typeof orcaClient
  >;
}
