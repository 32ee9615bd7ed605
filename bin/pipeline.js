#!/usr/bin/env node
import { preloadObjectChecks } from '../dist/src/stat-preload.js';

// Started before the CLI's modules load: their loading is the wait it fills.
preloadObjectChecks(process.argv.slice(2));
const { main } = await import('../dist/src/cli.js');

// `pipeline status | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
process.exitCode = await main(process.argv.slice(2));
