import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import type * as descriptor from 'protobufjs/ext/descriptor';
import { ReflectionClient } from '../helpers/reflection-client';
import { startTestServer, type TestServer } from '../helpers/server';

const EXPECTED_SERVICES = [
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
  'routeguide.RouteGuide',
];

describe.each(['v1', 'v1alpha'] as const)('server reflection %s', (version) => {
  let server: TestServer | undefined;
  let reflection: ReflectionClient | undefined;

  afterEach(async () => {
    reflection?.close();
    await server?.close();
    server = undefined;
    reflection = undefined;
  });

  it('lists every service and describes each completely, as grpcurl does without -proto', async () => {
    server = await startTestServer();
    reflection = new ReflectionClient(server.address, version);
    expect((await reflection.listServices()).sort()).toEqual(EXPECTED_SERVICES);

    // grpcurl: file_containing_symbol for the service, then file_by_filename for each
    // dependency, recursively, until the transitive closure is known.
    const files = new Map<string, descriptor.IFileDescriptorProto>();
    const add = async (fetched: descriptor.IFileDescriptorProto[]): Promise<void> => {
      for (const file of fetched) files.set(file.name!, file);
      for (const file of fetched) {
        for (const dependency of (file.dependency ?? []) as string[]) {
          if (!files.has(dependency)) {
            const [byName] = await reflection!.files({ file_by_filename: dependency });
            expect(byName?.name).toBe(dependency);
            await add([byName!]);
          }
        }
      }
    };
    for (const service of EXPECTED_SERVICES) {
      const fetched = await reflection.files({ file_containing_symbol: service });
      const [containing] = fetched;
      expect(containing!.service?.some((s) => `${containing!.package}.${s.name}` === service)).toBe(
        true,
      );
      await add(fetched);
    }

    // Every type the services mention resolves from the fetched files alone.
    const root = (
      protobuf.Root as unknown as {
        fromDescriptor(set: descriptor.IFileDescriptorSet): protobuf.Root;
      }
    ).fromDescriptor({ file: [...files.values()] });
    root.resolveAll();
    for (const name of EXPECTED_SERVICES) {
      const service = root.lookupService(name);
      expect(service.methodsArray.length).toBeGreaterThan(0);
      for (const method of service.methodsArray) {
        method.resolve();
        expect(method.resolvedRequestType).not.toBeNull();
        expect(method.resolvedResponseType).not.toBeNull();
        // Methods and message types are symbols too (grpcurl describe routeguide.Point).
        const [ofMethod] = await reflection.files({
          file_containing_symbol: `${name}.${method.name}`,
        });
        expect(ofMethod!.package).toBe(name.slice(0, name.lastIndexOf('.')));
        const requestType = method.resolvedRequestType!.fullName.slice(1);
        const [ofType] = await reflection.files({ file_containing_symbol: requestType });
        expect(
          ofType!.messageType?.some((m) => `${ofType!.package}.${m.name}` === requestType),
        ).toBe(true);
      }
    }
    expect(root.lookupService('routeguide.RouteGuide').methodsArray.map((m) => m.name)).toEqual([
      'GetFeature',
      'ListFeatures',
      'RecordRoute',
      'RouteChat',
    ]);

    // And the reflected schema is enough to call the service (grpcurl -d '{...}' GetFeature).
    const reflected = grpc.loadPackageDefinition(
      protoLoader.fromJSON(root.toJSON(), { keepCase: true, defaults: true }),
    ) as unknown as { routeguide: { RouteGuide: grpc.ServiceClientConstructor } };
    const client = new reflected.routeguide.RouteGuide(
      server.address,
      grpc.credentials.createInsecure(),
    ) as unknown as {
      GetFeature(
        point: object,
        callback: (error: Error | null, feature?: { name: string }) => void,
      ): void;
      close(): void;
    };
    const feature = await new Promise<{ name: string }>((resolve, reject) =>
      client.GetFeature({ latitude: 409146138, longitude: -746188906 }, (error, f) =>
        error ? reject(error) : resolve(f!),
      ),
    );
    client.close();
    expect(feature.name).toBe('Berkshire Valley Management Area Trail, Jefferson, NJ, USA');
  });

  it('answers NOT_FOUND in the stream for an unknown symbol', async () => {
    server = await startTestServer();
    reflection = new ReflectionClient(server.address, version);
    const response = await reflection.request({ file_containing_symbol: 'routeguide.Nope' });
    expect(response.error_response).toMatchObject({ error_code: grpc.status.NOT_FOUND });
  });

  it('is absent with REFLECTION=false', async () => {
    server = await startTestServer({ env: { REFLECTION: 'false' } });
    reflection = new ReflectionClient(server.address, version);
    await expect(reflection.listServices()).rejects.toMatchObject({
      code: grpc.status.UNIMPLEMENTED,
    });
  });
});
