import { loadRouteGuideProto } from '../../src/protocol/proto';
import { httpBindings, HttpRuleError, parsePathTemplate } from '../../src/gateway/http-rules';

describe('google.api.http rules', () => {
  it('are read from route_guide.proto for all four methods', () => {
    const bindings = httpBindings(loadRouteGuideProto().packageDefinition);
    expect(
      bindings.map((b) => [b.method, b.httpMethod, b.template.source, b.body, b.requestType]),
    ).toEqual([
      ['GetFeature', 'GET', '/v1/features/{latitude}/{longitude}', undefined, 'routeguide.Point'],
      ['ListFeatures', 'GET', '/v1/features', undefined, 'routeguide.Rectangle'],
      ['RecordRoute', 'POST', '/v1/routes', '*', 'routeguide.Point'],
      ['RouteChat', 'POST', '/v1/notes:chat', '*', 'routeguide.RouteNote'],
    ]);
    const chat = bindings[3]!;
    expect(chat.template.verb).toBe('chat');
    expect(chat.grpcPath).toBe('/routeguide.RouteGuide/RouteChat');
    expect([chat.requestStream, chat.responseStream]).toEqual([true, true]);
    expect(bindings[1]!.responseType).toBe('routeguide.Feature');
  });

  it('parse variables, nested patterns, deep wildcards and verbs', () => {
    const t = parsePathTemplate('/v1/{name=shelves/*/books/*}/pages/{page.id}/**:read');
    expect(t.segments.map((s) => (s.kind === 'literal' ? s.value : s.kind))).toEqual([
      'v1',
      'shelves',
      'wildcard',
      'books',
      'wildcard',
      'pages',
      'wildcard',
      'deep-wildcard',
    ]);
    expect(t.variables).toEqual([
      { fieldPath: ['name'], start: 1, length: 4 },
      { fieldPath: ['page', 'id'], start: 6, length: 1 },
    ]);
    expect(t.verb).toBe('read');
    expect(parsePathTemplate('/v1/features/{latitude}/{longitude}').variables).toEqual([
      { fieldPath: ['latitude'], start: 2, length: 1 },
      { fieldPath: ['longitude'], start: 3, length: 1 },
    ]);
  });

  it.each([
    'v1/features',
    '/v1//features',
    '/v1/{lat',
    '/v1/{1lat}',
    '/v1/**/x',
    '/v1/{a={b}}',
    '/v1/x:',
  ])('refuse the malformed template %s', (template) => {
    expect(() => parsePathTemplate(template)).toThrow(HttpRuleError);
  });
});
