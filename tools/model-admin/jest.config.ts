export default {
  displayName: 'model-admin',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  // Each test spawns the CLI (tsx compiles it) several times.
  testTimeout: 60_000,
};
