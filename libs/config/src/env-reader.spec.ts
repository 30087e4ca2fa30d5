import { ConfigError, EnvReader } from './env-reader';

describe('EnvReader', () => {
  it('reads typed values and falls back to defaults for unset or blank variables', () => {
    const env = new EnvReader({ PORT: '8080', DEBUG: 'yes', NAME: '  ', KEYS: 'a, b,,c', MODE: 'int8' });
    expect(env.int('PORT', { default: 3000, min: 1, max: 65535 })).toBe(8080);
    expect(env.int('OTHER', { default: 7 })).toBe(7);
    expect(env.bool('DEBUG', false)).toBe(true);
    expect(env.string('NAME', 'fallback')).toBe('fallback');
    expect(env.list('KEYS')).toEqual(['a', 'b', 'c']);
    expect(env.oneOf('MODE', ['fp32', 'int8'] as const, 'fp32')).toBe('int8');
    expect(env.redisUrl('REDIS_URL', 'redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(() => env.done()).not.toThrow();
  });

  it('names every bad variable in one error', () => {
    const env = new EnvReader({
      PORT: 'eighty',
      THREADS: '0',
      RATIO: '1.5',
      DEBUG: 'maybe',
      MODE: 'fp16',
      REDIS_URL: 'http://x',
    });
    env.int('PORT', { default: 1 });
    env.int('THREADS', { default: 1, min: 1, max: 64 });
    env.int('RATIO', { default: 1 });
    env.bool('DEBUG', false);
    env.oneOf('MODE', ['fp32', 'int8'] as const, 'fp32');
    env.redisUrl('REDIS_URL', 'redis://127.0.0.1:6379');
    env.check(false, 'A and B cannot both be set');
    let error: unknown;
    try {
      env.done();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'PORT must be an integer, got "eighty"',
      'THREADS must be an integer in 1..64, got 0',
      'RATIO must be an integer, got "1.5"',
      'DEBUG must be true or false, got "maybe"',
      'MODE must be one of fp32, int8, got "fp16"',
      'REDIS_URL must be a redis:// or rediss:// URL, got "http://x"',
      'A and B cannot both be set',
    ]);
  });

  it('records every variable it reads, once, as the app configuration schema', () => {
    const env = new EnvReader({});
    env.int('PORT', { default: 3000 });
    env.oneOf('MODE', ['fp32', 'int8'] as const, 'fp32');
    env.list('API_KEYS');
    env.int('PORT', { default: 3000 });
    expect(env.variables).toEqual([
      { name: 'PORT', kind: 'integer', default: 3000 },
      { name: 'MODE', kind: 'enum', default: 'fp32', allowed: ['fp32', 'int8'] },
      { name: 'API_KEYS', kind: 'list' },
    ]);
  });
});
