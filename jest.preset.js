// Shared Jest settings: SWC compiles TypeScript with decorator metadata, which NestJS needs.
module.exports = {
  testEnvironment: require('path').join(__dirname, 'jest.environment.js'),
  transform: {
    '^.+\\.[tj]s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@reputation-monitor/([^/]+)$': require('path').join(__dirname, 'libs/$1/src/index.ts'),
  },
};
