const DIGEST = /@sha256:[0-9a-f]{64}$/;

/**
 * An image reference is pinned when it names an exact release: a tag that starts with a full version
 * (`20.19.5-bookworm-slim`, `v3.5.0`), optionally with the digest of that release (`…@sha256:<64 hex>`).
 * `latest`, a bare major (`20`, `7-alpine`) or major.minor (`20.19-slim`) move under you; a digest without a
 * tag pins the bytes but no longer says what they are, so the tag stays beside it.
 */
export function imagePinProblem(reference: string): string | undefined {
  const digest = DIGEST.exec(reference);
  if (!digest && reference.includes('@')) {
    return `image "${reference}" has a malformed digest (want @sha256:<64 hex digits>)`;
  }
  const named = digest ? reference.slice(0, digest.index) : reference;
  const lastSegment = named.slice(named.lastIndexOf('/') + 1);
  const colon = lastSegment.indexOf(':');
  if (colon < 0) {
    return digest
      ? `image "${reference}" has a digest but no tag; keep the version beside it (name:1.2.3@sha256:…)`
      : `image "${reference}" has no tag (that is "latest"); pin an exact version`;
  }
  const tag = lastSegment.slice(colon + 1);
  if (tag === 'latest') return `image "${reference}" uses "latest"; pin an exact version`;
  if (!/^v?\d+\.\d+\.\d+(?:[-_.+].*)?$/.test(tag)) {
    return `image "${reference}" is not pinned to an exact version (tag "${tag}"; want e.g. 1.2.3)`;
  }
  return undefined;
}

/**
 * A base image is pinned by tag and digest (`node:20.19.5-bookworm-slim@sha256:…`): the digest fixes the bytes
 * a build starts from (a tag can be pushed again), the tag says which release they are; Dependabot updates both.
 */
export function digestPinProblem(reference: string): string | undefined {
  return (
    imagePinProblem(reference) ??
    (DIGEST.test(reference)
      ? undefined
      : `image "${reference}" is not pinned by digest (want name:1.2.3@sha256:<digest>)`)
  );
}
