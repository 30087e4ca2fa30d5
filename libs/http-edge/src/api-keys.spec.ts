import type { IncomingMessage } from 'node:http';
import { ApiKeys, parseKeyEntry } from './api-keys';

const withHeaders = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('API keys', () => {
  it('names a tenant with <tenant>:<key>, else derives one from the key', () => {
    expect(parseKeyEntry('acme:0123456789abcdef')).toEqual({ tenant: 'acme', key: '0123456789abcdef' });
    const bare = parseKeyEntry('0123456789abcdef');
    expect(bare).toEqual({ tenant: expect.stringMatching(/^k[0-9a-f]{12}$/), key: '0123456789abcdef' });
    // Not a tenant name before the colon: the whole entry is the key.
    expect(parseKeyEntry('Not A Tenant:0123456789abcdef')).toMatchObject({
      key: 'Not A Tenant:0123456789abcdef',
    });
    expect(parseKeyEntry('acme:short')).toBe('keys must be at least 16 characters');
  });

  it('finds the tenant of the key a request presents, in any of the three ways', () => {
    const keys = new ApiKeys([
      'acme:acme-key-0123456789',
      'acme:acme-next-0123456789',
      'globex:globex-key-012345',
    ]);
    expect(keys.tenantOf(withHeaders({ 'x-api-key': 'acme-key-0123456789' }))).toBe('acme');
    expect(keys.tenantOf(withHeaders({ authorization: 'Bearer acme-next-0123456789' }))).toBe('acme');
    const basic = `Basic ${Buffer.from('anyone:globex-key-012345').toString('base64')}`;
    expect(keys.tenantOf(withHeaders({ authorization: basic }))).toBe('globex');
    expect(keys.tenantOf(withHeaders({ 'x-api-key': 'acme-key-012345678' }))).toBeUndefined();
    expect(keys.tenantOf(withHeaders({}))).toBeUndefined();
    expect(keys.matches(withHeaders({ authorization: 'Basic not-base64-at-all' }))).toBe(false);
  });

  it('accepts everyone when no key is configured, and matches no one', () => {
    const none = new ApiKeys([]);
    expect(none.required).toBe(false);
    expect(none.accepts(withHeaders({}))).toBe(true);
    expect(none.matches(withHeaders({ 'x-api-key': 'anything-0123456789' }))).toBe(false);
  });
});
