export default {
  displayName: 'monitoring-checks',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  // The live check starts the apps and a real Prometheus, and waits for scrapes.
  testTimeout: 180_000,
};
