import { httpBindings } from '../../src/gateway/http-rules';
import { Routes } from '../../src/gateway/routes';
import { loadRouteGuideProto } from '../../src/protocol/proto';

describe('Routes from the proto annotations', () => {
  const routes = new Routes(httpBindings(loadRouteGuideProto().packageDefinition));

  it('match each method with its path variables', () => {
    const get = routes.lookup('GET', '/v1/features/409146138/-746188906');
    expect(get.kind === 'match' && get.match.binding.method).toBe('GetFeature');
    expect(get.kind === 'match' && get.match.variables).toEqual([
      { fieldPath: ['latitude'], value: '409146138' },
      { fieldPath: ['longitude'], value: '-746188906' },
    ]);
    const head = routes.lookup('HEAD', '/v1/features');
    expect(head.kind === 'match' && head.match.binding.method).toBe('ListFeatures');
    const chat = routes.lookup('POST', '/v1/notes:chat');
    expect(chat.kind === 'match' && chat.match.binding.method).toBe('RouteChat');
    const record = routes.lookup('POST', '/v1/routes');
    expect(record.kind === 'match' && record.match.binding.method).toBe('RecordRoute');
  });

  it('tell a wrong method (with the allowed ones) from an unknown path', () => {
    expect(routes.lookup('PUT', '/v1/features/1/2')).toEqual({
      kind: 'wrong-method',
      allow: ['GET'],
    });
    expect(routes.lookup('GET', '/v1/notes:chat')).toEqual({
      kind: 'wrong-method',
      allow: ['POST'],
    });
    for (const path of [
      '/v1/features/1',
      '/v1/features/1/2/3',
      '/v1/notes',
      '/v1/notes:talk',
      '/',
      '/v1/features//2',
      '/%zz',
    ]) {
      expect(routes.lookup('GET', path)).toEqual({ kind: 'none' });
    }
  });
});
