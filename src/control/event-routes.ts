/**
 * `GET /events?types=...`: the network's typed events as newline-delimited JSON, for as long as the
 * client stays connected. Opt-in like the library events: a type nobody asks for is never built.
 * @module
 */
import type { VirtualNetworkEvents } from '../events.js';
import type { RouteHandler } from './http-server.js';

/** Event groups a client can ask for, and the events each covers. */
export const EVENT_GROUPS = {
  nic: ['nic-attached', 'nic-detached'],
  lease: ['lease', 'release'],
  flow: ['flow-open', 'flow-close'],
  dns: ['dns-query'],
  error: ['error'],
} as const satisfies Record<string, ReadonlyArray<keyof VirtualNetworkEvents>>;

/** An event group name. */
export type EventGroup = keyof typeof EVENT_GROUPS;

/** What the route needs: subscribe and unsubscribe by event name. */
export interface EventSource {
  on(event: keyof VirtualNetworkEvents, fn: (e: unknown) => void): unknown;
  off(event: keyof VirtualNetworkEvents, fn: (e: unknown) => void): unknown;
}

/** Parses a comma list of groups (`flow,dns`); `undefined` means the default `nic,lease,error`. */
export function parseEventGroups(list: string | null | undefined): EventGroup[] | string {
  if (list === null || list === undefined || list === '') return ['nic', 'lease', 'error'];
  const out: EventGroup[] = [];
  for (const g of list.split(',').map((x) => x.trim())) {
    if (!(g in EVENT_GROUPS)) return `unknown event type ${JSON.stringify(g)} (${Object.keys(EVENT_GROUPS).join(', ')})`;
    out.push(g as EventGroup);
  }
  return out;
}

/** Subscribes `write` to the events of `groups`; returns the unsubscribe function. */
export function subscribeEvents(src: EventSource, groups: readonly EventGroup[], write: (line: unknown) => void): () => void {
  const subs: Array<[keyof VirtualNetworkEvents, (e: unknown) => void]> = [];
  for (const g of groups)
    for (const event of EVENT_GROUPS[g]) {
      const fn = (e: unknown): void => write({ event, ...(e as object) });
      src.on(event, fn);
      subs.push([event, fn]);
    }
  return () => {
    for (const [event, fn] of subs) src.off(event, fn);
  };
}

/** The `GET /events` route. */
export function eventRoutes(src: EventSource): Array<[string, RouteHandler]> {
  return [
    [
      'GET /events',
      (req) => {
        const groups = parseEventGroups(req.query.get('types'));
        if (typeof groups === 'string') return { status: 400, body: { error: groups } };
        return { status: 200, stream: (write) => subscribeEvents(src, groups, write) };
      },
    ],
  ];
}
