import { allowed, cidrContains, firstAddress, PodPeer, selectorMatches } from './network';
import { K8sObject } from './yaml';

const pod = (labels: Record<string, string>, namespace = 'ns'): PodPeer => ({
  kind: 'pod',
  name: JSON.stringify(labels),
  namespace,
  namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
  labels,
  ports: { http: 8080 },
});

const policy = (spec: Record<string, unknown>): K8sObject => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'p', namespace: 'ns' },
  spec,
});

describe('the NetworkPolicy evaluator', () => {
  it('matches label selectors with every operator', () => {
    const labels = { app: 'web', tier: 'front' };
    expect(selectorMatches({}, labels)).toBe(true);
    expect(selectorMatches({ matchLabels: { app: 'web' } }, labels)).toBe(true);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['api'] }] }, labels),
    ).toBe(false);
    expect(
      selectorMatches({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['api'] }] }, labels),
    ).toBe(true);
    expect(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels)).toBe(false);
    expect(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels)).toBe(
      true,
    );
  });

  it('handles CIDRs and their exceptions', () => {
    expect(cidrContains('10.0.0.0/8', '10.200.3.4')).toBe(true);
    expect(cidrContains('0.0.0.0/0', '8.8.8.8')).toBe(true);
    expect(cidrContains('192.168.0.0/16', '192.169.0.1')).toBe(false);
    expect(firstAddress('10.100.0.0/28')).toBe('10.100.0.1');
    const objects = [
      policy({
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }], ports: [{ port: 443 }] },
        ],
      }),
    ];
    const from = pod({ app: 'web' });
    expect(allowed(objects, { from, to: { kind: 'address', name: 'x', ip: '1.2.3.4' }, port: 443 })).toBe(
      true,
    );
    expect(allowed(objects, { from, to: { kind: 'address', name: 'x', ip: '10.1.2.3' }, port: 443 })).toBe(
      false,
    );
    expect(
      allowed(objects, {
        from,
        to: { kind: 'address', name: 'x', ip: '1.2.3.4' },
        port: 443,
        protocol: 'UDP',
      }),
    ).toBe(false);
  });

  it('reads podSelector alone as this namespace, both selectors together as AND, and resolves named ports', () => {
    const objects = [
      policy({
        podSelector: { matchLabels: { app: 'api' } },
        policyTypes: ['Ingress'],
        ingress: [
          { from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 'http' }] },
          {
            from: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
                podSelector: { matchLabels: { app: 'prometheus' } },
              },
            ],
          },
        ],
      }),
    ];
    const api = pod({ app: 'api' });
    expect(allowed(objects, { from: pod({ app: 'web' }), to: api, port: 8080 })).toBe(true);
    expect(allowed(objects, { from: pod({ app: 'web' }), to: api, port: 9090 })).toBe(false);
    expect(allowed(objects, { from: pod({ app: 'web' }, 'other'), to: api, port: 8080 })).toBe(false);
    expect(allowed(objects, { from: pod({ app: 'prometheus' }, 'monitoring'), to: api, port: 1 })).toBe(true);
    expect(allowed(objects, { from: pod({ app: 'grafana' }, 'monitoring'), to: api, port: 1 })).toBe(false);
    // Pods no policy selects are open.
    expect(allowed(objects, { from: pod({ app: 'x' }, 'other'), to: pod({ app: 'web' }), port: 1 })).toBe(
      true,
    );
  });
});
