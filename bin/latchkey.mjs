#!/usr/bin/env node
// The `latchkey` command. Runs the compiled JavaScript in dist/ when it is up to date with src/, else the
// TypeScript sources through tsx's loader (see entry.mjs).
import { fileURLToPath } from 'node:url';
import { chooseRuntime } from './entry.mjs';

if (chooseRuntime(fileURLToPath(new URL('..', import.meta.url))) === 'dist') {
  await import('../dist/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
