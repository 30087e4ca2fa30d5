/** A command line the benchmark cannot run: printed with the usage, exit code 2. */
export class UsageError extends Error {}
