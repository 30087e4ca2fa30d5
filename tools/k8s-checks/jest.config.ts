export default {
  displayName: 'k8s-checks',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  // The first run may build the apps to read their --env-schema.
  testTimeout: 300_000,
};
