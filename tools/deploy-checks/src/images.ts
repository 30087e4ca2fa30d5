/**
 * An image reference is pinned when it names an exact release: a digest, or a tag that starts with a full
 * version (`20.19.5-bookworm-slim`, `v3.5.0`). `latest`, a bare major (`20`, `7-alpine`) or major.minor
 * (`20.19-slim`) move under you.
 */
export function imagePinProblem(reference: string): string | undefined {
  if (/@sha256:[0-9a-f]{64}$/.test(reference)) return undefined;
  const lastSegment = reference.slice(reference.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  if (colon < 0) return `image "${reference}" has no tag (that is "latest"); pin an exact version`;
  const tag = lastSegment.slice(colon + 1);
  if (tag === 'latest') return `image "${reference}" uses "latest"; pin an exact version`;
  if (!/^v?\d+\.\d+\.\d+(?:[-_.+].*)?$/.test(tag)) {
    return `image "${reference}" is not pinned to an exact version (tag "${tag}"; want e.g. 1.2.3)`;
  }
  return undefined;
}
