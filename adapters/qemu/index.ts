/**
 * The QEMU adapter: options and argv (`options.ts`, `argv.ts`), accelerator choice
 * (`accel.ts`), launch with a line-oriented serial console (`launch.ts`) and the vmlab guest's
 * marker protocol (`vmlab.ts`). See `README.md` next to this file.
 * @module
 */
export * from './options.js';
export * from './argv.js';
export * from './accel.js';
export * from './console-lines.js';
export * from './child-process.js';
export * from './launch.js';
export * from './vmlab.js';
