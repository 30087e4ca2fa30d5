import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { applyJson6902, renderKustomization, splitImage, strategicMerge } from './kustomize';
import { schemaProblems } from './schema';

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: web
          env:
            - name: A
              value: '1'
            - name: B
              value: '2'
          ports:
            - containerPort: 80
`;

describe('the kustomize renderer', () => {
  let root: string;
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'k8s-kustomize-'));
    write('base/deployment.yaml', DEPLOYMENT);
    write('base/kustomization.yaml', 'resources:\n  - deployment.yaml\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('applies namespace, images and a strategic-merge patch that merges env by name', () => {
    write(
      'overlay/kustomization.yaml',
      [
        'namespace: prod',
        'resources:',
        '  - ../base',
        'images:',
        '  - name: web',
        '    newName: ghcr.io/acme/repo/web',
        '    newTag: abc',
        'patches:',
        '  - path: patch.yaml',
      ].join('\n'),
    );
    write(
      'overlay/patch.yaml',
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata:',
        '  name: web',
        'spec:',
        '  template:',
        '    spec:',
        '      containers:',
        '        - name: web',
        '          env:',
        '            - name: B',
        "              value: '3'",
        '            - name: C',
        "              value: '4'",
      ].join('\n'),
    );

    const [deployment] = renderKustomization(join(root, 'overlay'));

    expect(deployment.metadata.namespace).toBe('prod');
    const web = (deployment.spec as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec.containers[0];
    expect(web.image).toBe('ghcr.io/acme/repo/web:abc');
    expect(web.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '3' },
      { name: 'C', value: '4' },
    ]);
    expect(web.ports).toEqual([{ containerPort: 80 }]);
  });

  it('applies a JSON 6902 patch to its target and fails when a test operation does not hold', () => {
    write(
      'overlay/kustomization.yaml',
      'resources:\n  - ../base\npatches:\n  - path: p.yaml\n    target:\n      kind: Deployment\n      name: web\n',
    );
    write(
      'overlay/p.yaml',
      '- op: test\n  path: /spec/template/spec/containers/0/env/1/name\n  value: B\n- op: remove\n  path: /spec/template/spec/containers/0/env/0\n',
    );
    const [deployment] = renderKustomization(join(root, 'overlay'));
    expect(JSON.stringify(deployment)).not.toContain('"A"');

    write('overlay/p.yaml', '- op: test\n  path: /spec/template/spec/containers/0/env/0/name\n  value: B\n');
    expect(() => renderKustomization(join(root, 'overlay'))).toThrow(/expected "B", found "A"/);
  });

  it('refuses what it does not implement and files outside the kustomization, as kustomize would', () => {
    write('overlay/kustomization.yaml', 'resources:\n  - ../base\ncommonLabels:\n  a: b\n');
    expect(() => renderKustomization(join(root, 'overlay'))).toThrow(
      /uses commonLabels, which this renderer does not implement/,
    );

    write('overlay/kustomization.yaml', 'resources:\n  - ../base/deployment.yaml\n');
    expect(() => renderKustomization(join(root, 'overlay'))).toThrow(
      /outside .* \(kustomize refuses files outside the root\)/,
    );

    write('overlay/kustomization.yaml', 'resources:\n  - ../base\n  - ../base\n');
    expect(() => renderKustomization(join(root, 'overlay'))).toThrow(/Deployment\/web is defined twice/);
  });

  it('reads YAML 1.1 as kubectl does: an unquoted on is a boolean, which the schema then refuses', () => {
    write('base/deployment.yaml', DEPLOYMENT.replace("value: '1'", 'value: on'));
    const objects = renderKustomization(join(root, 'base'));
    expect(JSON.stringify(objects[0])).toContain('{"name":"A","value":true}');
    expect(schemaProblems(objects)).toEqual([
      expect.stringMatching(/^Deployment\/web: schema: .*env\/0\/value must be string/),
    ]);
  });

  it('splits image references with registry ports, tags and digests', () => {
    expect(splitImage('localhost:5000/web')).toEqual({ name: 'localhost:5000/web', digest: undefined });
    expect(splitImage(`redis:7.4.5@sha256:${'a'.repeat(64)}`)).toEqual({
      name: 'redis',
      tag: '7.4.5',
      digest: `sha256:${'a'.repeat(64)}`,
    });
  });

  it('replaces the lists of custom resources instead of merging them, and deletes keys patched to null', () => {
    expect(
      strategicMerge({ triggers: [{ type: 'a' }], x: 1 }, { triggers: [{ type: 'b' }], x: null }, false, []),
    ).toEqual({
      triggers: [{ type: 'b' }],
    });
    expect(() => applyJson6902({}, [{ op: 'move', from: '/a', path: '/b' }], 'p')).toThrow(
      /only add, remove, replace and test/,
    );
  });
});
