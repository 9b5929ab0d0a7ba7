#!/usr/bin/env node
// The test runner is test/run.ts, compiled to out/test/run.js (`npm test` builds, then runs it). This file
// keeps `node scripts/test.mjs [out/test/<folder>/<file>.test.js ...]` working: same arguments, same runner.
await import('../out/test/run.js');
