/**
 * The hyperkit adapter: build hyperkit's command line (`argv.ts`, `linuxkit.ts`), keep its state
 * directory (`state.ts`) and run it (`launch.ts`). See `README.md` next to this file.
 * @module
 */
export * from './options.js';
export * from './argv.js';
export * from './linuxkit.js';
export * from './state.js';
export * from './launch.js';
export type { StopOptions, VmExit } from '../qemu/child-process.js';
