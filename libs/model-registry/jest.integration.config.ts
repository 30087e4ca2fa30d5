export default {
  displayName: 'model-registry:integration',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  testTimeout: 30_000,
};
