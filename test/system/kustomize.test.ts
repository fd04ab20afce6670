import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { ROOT, assembleKustomization, renderKustomize, type K8sObject } from '../helpers/deploy';
import { PROGRAMS, requireProgram } from '../helpers/system-programs';

const byKindAndName = (objects: K8sObject[]) =>
  Object.fromEntries(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));

/** kubectl's kustomize on k8s/: what `kubectl apply -k k8s/` really sends. */
describe('kubectl kustomize k8s/', () => {
  beforeAll(() => requireProgram(PROGRAMS.kubectl));

  it('renders exactly what npm test checks (assembleKustomization), plus the ConfigMap hash', () => {
    const rendered = renderKustomize();
    const assembled = assembleKustomization();
    let json = JSON.stringify(rendered);
    // kustomize names generated ConfigMaps <name>-<10-character content hash>, everywhere.
    for (const generated of assembled.filter((o) => o.kind === 'ConfigMap')) {
      const name = generated.metadata.name;
      const hashed = rendered.find(
        (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith(`${name}-`),
      )?.metadata.name;
      expect(hashed).toMatch(new RegExp(`^${name}-[a-z0-9]{10}$`));
      json = json.replaceAll(`"${hashed!}"`, `"${name}"`);
    }
    expect(byKindAndName(JSON.parse(json) as K8sObject[])).toEqual(byKindAndName(assembled));
  });

  it('a configuration change renames the ConfigMap, so applying it rolls the Deployment', () => {
    const copy = mkdtempSync(path.join(tmpdir(), 'routeguide-k8s-'));
    try {
      cpSync(path.join(ROOT, 'k8s'), copy, { recursive: true });
      const env = path.join(copy, 'config.env');
      writeFileSync(env, readFileSync(env, 'utf8').replace('LOG_LEVEL=info', 'LOG_LEVEL=debug'));
      const names = (dir: string) => {
        const out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
        const objects = parseAllDocuments(out).map((d) => d.toJSON() as K8sObject);
        const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
          spec: {
            template: { spec: { containers: { envFrom: { configMapRef: { name: string } }[] }[] } };
          };
        };
        return {
          configMap: objects.find((o) => o.kind === 'ConfigMap')!.metadata.name,
          usedBy: deployment.spec.template.spec.containers[0]!.envFrom[0]!.configMapRef.name,
        };
      };
      const before = names(path.join(ROOT, 'k8s'));
      const after = names(copy);
      expect(after.configMap).not.toBe(before.configMap);
      expect(before.usedBy).toBe(before.configMap);
      expect(after.usedBy).toBe(after.configMap);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
