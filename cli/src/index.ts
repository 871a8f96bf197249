export { type CliSettings, type GlobalOptions, resolveSettings } from './connect/settings.js';
export { describeError, exitCodeOf, UnreachableError, UsageError } from './output/cli-errors.js';
export { EXIT, type ExitCode } from './output/exit-codes.js';
export { type CliIo, processIo, type TextSink } from './output/io.js';
export { buildProgram } from './program.js';
export { type FieldChange, fieldChanges } from './routes/field-diff.js';
export { isNoop, planRoutes, type RoutePlan, type StoredRoute } from './routes/route-plan.js';
export { type DesiredRoute, validateRoutesFile } from './routes/routes-file.js';
export { runCli } from './run-cli.js';
