export default {
  displayName: 'e2e',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.e2e-spec.ts'],
  globalSetup: '<rootDir>/src/support/global-setup.ts',
  // Real processes, real Redis, real ONNX Runtime: generous, and one file at a time.
  testTimeout: 120_000,
};
