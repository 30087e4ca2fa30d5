/**
 * Secrets the manifests reference but never define: their values must not be in the repository. Operators create
 * them (docs/kubernetes.md gives the commands; secrets.spec.ts checks the document names each one and its keys),
 * or an External Secrets / Sealed Secrets controller does.
 */
export interface ExternalSecret {
  name: string;
  keys: readonly string[];
  what: string;
}

export const EXTERNAL_SECRETS: readonly ExternalSecret[] = [
  {
    name: 'reputation-monitor-api-keys',
    keys: ['API_KEYS', 'ADMIN_API_KEYS'],
    what: 'client and admin keys of the gateway and the drift monitor',
  },
  {
    name: 'reputation-monitor-redis',
    keys: [
      'REDIS_URL',
      'REDIS_PASSWORD',
      'REDIS_SENTINELS',
      'REDIS_SENTINEL_NAME',
      'REDIS_SENTINEL_PASSWORD',
    ],
    what:
      "the apps' REDIS_URL (password inside); REDIS_PASSWORD for the small overlay's own Redis; optionally the " +
      'REDIS_SENTINEL* keys for Redis Sentinel',
  },
  { name: 'reputation-monitor-hub', keys: ['HF_TOKEN'], what: 'Hugging Face token (optional)' },
  { name: 'reputation-monitor-github', keys: ['GITHUB_TOKEN'], what: 'repository_dispatch token (optional)' },
  { name: 'reputation-monitor-tls', keys: ['tls.crt', 'tls.key'], what: "the Ingress's certificate" },
];

/** Variables whose value is a credential: they come from a Secret, never a plain `value`. */
export const SECRET_VARIABLE = /(^|_)(KEYS?|TOKEN|PASSWORD|SECRET|CREDENTIALS?)$|^REDIS_URL$/;
/** A URL with a password in it (redis://:pw@host): a credential whatever the variable is called. */
export const CREDENTIAL_URL = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]+@/i;
