/**
 * Summarises a V8 `.cpuprofile` (what `node --cpu-prof` writes on exit): self time per
 * function and per file, as a share of the time the process was not idle. Paths of the
 * compiled build (`…/dist/src/x.js`) are shown as the source they came from (`src/x.ts`);
 * line numbers are left out because they are the compiled file's.
 * @module
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One row of a summary. */
export interface HotSpot {
  /** `src/file.ts:function`, `node:internal/…:function`, or a V8 bucket such as `(garbage collector)`. */
  readonly name: string;
  readonly selfMs: number;
  /** Percent of the non-idle time. */
  readonly percent: number;
}

/** A summarised profile. */
export interface ProfileSummary {
  /** Sampled time not spent waiting in the event loop. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly byFunction: HotSpot[];
  readonly byFile: HotSpot[];
}

/** `file:///tmp/x/build/dist/src/stack/tcp/output.js` → `src/stack/tcp/output.ts`. */
export function displayPath(url: string): string {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const m = /\/dist\/((?:src|adapters)\/.*)\.js$/.exec(path);
  if (m) return `${m[1]}.ts`;
  const repo = /\/((?:src|adapters|test)\/.*)$/.exec(path);
  if (repo && !path.includes('/node_modules/')) return repo[1]!;
  const nm = /\/node_modules\/(.*)$/.exec(path);
  return nm ? `node_modules/${nm[1]}` : path;
}

function rank(map: Map<string, number>, busyMs: number, top: number): HotSpot[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, selfMs: us / 1000, percent: (100 * us) / 1000 / busyMs }));
}

/** Reads and summarises the profile at `path`, keeping the `top` entries of each list. */
export function summariseProfile(path: string, top = 25): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attributing it to sample i is what DevTools does.
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url } = byId.get(id)!.callFrame;
    totalUs += us;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const where = displayPath(url);
    const name = where === '' ? functionName || '(anonymous)' : `${where}:${functionName || '(anonymous)'}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const f = where === '' ? (functionName.startsWith('(') ? functionName : '(native)') : where;
    file.set(f, (file.get(f) ?? 0) + us);
  }
  const busyMs = (totalUs - idleUs) / 1000;
  return { busyMs, idleMs: idleUs / 1000, byFunction: rank(fn, busyMs, top), byFile: rank(file, busyMs, top) };
}

/** Formats a summary as two small tables. */
export function formatProfile(title: string, s: ProfileSummary): string {
  const row = (h: HotSpot): string => `${h.percent.toFixed(1).padStart(6)} % ${h.selfMs.toFixed(0).padStart(8)} ms  ${h.name}`;
  return [
    `${title}: ${(s.busyMs / 1000).toFixed(2)} s busy, ${(s.idleMs / 1000).toFixed(2)} s idle (JS thread)`,
    '  self time by function (share of busy time):',
    ...s.byFunction.map((h) => `  ${row(h)}`),
    '  self time by file:',
    ...s.byFile.map((h) => `  ${row(h)}`),
  ].join('\n');
}
