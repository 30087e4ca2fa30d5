import { find, overlayObjects } from './fixtures';
import { EXTERNAL_SECRETS } from './secrets';
import { KUBERNETES_DOC, OVERLAYS, readWorkspaceFile } from './workspace';

describe('the Secrets created outside the manifests', () => {
  const doc = readWorkspaceFile(KUBERNETES_DOC);
  const referenced = OVERLAYS.flatMap((overlay) => JSON.stringify(overlayObjects(overlay)));

  it.each(EXTERNAL_SECRETS.map((secret) => [secret.name, secret]))(
    '%s is documented with each of its keys',
    (_name, secret) => {
      expect(doc).toMatch(new RegExp(`kubectl -n \\$NS create secret (generic|tls) ${secret.name}\\b`));
      for (const key of secret.keys) expect(doc).toContain(`\`${key}\``);
    },
  );

  it.each(EXTERNAL_SECRETS.map((secret) => [secret.name]))(
    '%s is used by an overlay (no stale entry)',
    (name) => {
      expect(referenced.some((json) => json.includes(`"${name}"`))).toBe(true);
    },
  );

  it('the small overlay derives both Redis keys from one password', () => {
    expect(doc).toContain(
      '--from-literal=REDIS_PASSWORD="$P" --from-literal=REDIS_URL="redis://:$P@redis:6379"',
    );
    const service = find(overlayObjects('small'), 'Service', 'redis');
    expect(service.spec).toMatchObject({
      ports: expect.arrayContaining([expect.objectContaining({ port: 6379 })]),
    });
  });
});
