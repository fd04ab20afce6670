import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as descriptor from 'protobufjs/ext/descriptor';

const REFLECTION_PROTO_ROOT = path.resolve(
  path.dirname(require.resolve('@grpc/reflection')),
  '..',
  'proto',
);

export interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] } | null;
  file_descriptor_response?: { file_descriptor_proto: Buffer[] } | null;
  error_response?: { error_code: number; error_message: string } | null;
}

/** A minimal grpcurl: one ServerReflectionInfo stream, one request at a time. */
export class ReflectionClient {
  private readonly client: grpc.Client;
  private readonly stream: grpc.ClientDuplexStream<object, ReflectionResponse>;
  private readonly pending: ((response: ReflectionResponse | Error) => void)[] = [];

  constructor(address: string, version: 'v1' | 'v1alpha') {
    const definition = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
      keepCase: true,
      defaults: true,
      oneofs: true,
      includeDirs: [REFLECTION_PROTO_ROOT],
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> };
    };
    const Client = pkg.grpc.reflection[version]!.ServerReflection;
    this.client = new Client(address, grpc.credentials.createInsecure());
    this.stream = (
      this.client as unknown as {
        ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse>;
      }
    ).ServerReflectionInfo();
    this.stream.on('data', (response: ReflectionResponse) => this.pending.shift()?.(response));
    this.stream.on('error', (error: Error) => {
      for (const waiter of this.pending.splice(0)) waiter(error);
    });
  }

  request(message: object): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      this.pending.push((response) =>
        response instanceof Error ? reject(response) : resolve(response),
      );
      this.stream.write({ host: '', ...message });
    });
  }

  async listServices(): Promise<string[]> {
    const response = await this.request({ list_services: '*' });
    return response.list_services_response!.service.map((s) => s.name);
  }

  async files(message: object): Promise<descriptor.IFileDescriptorProto[]> {
    const response = await this.request(message);
    if (response.error_response) {
      throw new Error(`reflection error: ${response.error_response.error_message}`);
    }
    return response.file_descriptor_response!.file_descriptor_proto.map(
      (bytes) =>
        descriptor.FileDescriptorProto.decode(bytes) as unknown as descriptor.IFileDescriptorProto,
    );
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }
}
