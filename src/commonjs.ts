// CommonJS packages are loaded with require, not import: importing one makes Node scan
// every file of the package for export names first, which costs more than loading it
// (about 50 ms of DuckDB's 110 ms, 10 of xxhash's 13), and a no-op run pays it each time.
import { createRequire } from 'node:module';

export const requireCommonJs = createRequire(import.meta.url);
