export default {
  displayName: 'retrain',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  // Real ONNX Runtime sessions, TensorFlow.js fits and child processes on 2 shared cores.
  testTimeout: 60_000,
};
