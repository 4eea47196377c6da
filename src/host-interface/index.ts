/**
 * Host routes into guests: a TAP on the host attached to the bridge (host-interface.ts), its
 * spec and CLI flags (spec.ts, flags.ts), `ip` plumbing (ip-command.ts) and control routes
 * (control-routes.ts). Guide: docs-site/guides/host-interface.md.
 * @module
 */
export {
  attachHostInterface,
  closeHostInterfaces,
  detachHostInterface,
  hostInterfaceOf,
  HostInterface,
  type HostInterfaceEnv,
  type HostInterfaceInfo,
  type HostInterfaceNetwork,
} from './host-interface.js';
export { hostInterfaceError, type HostInterfaceError, type HostInterfaceErrorKind } from './host-interface-errors.js';
export { parseHostRoute, formatHostRoute, resolveHostInterfaceSpec, type HostInterfaceSpec, type HostRoute, type ResolvedHostInterface } from './spec.js';
export { HOST_INTERFACE_FLAG_OPTIONS, hostInterfaceFromFlags, parseHostInterfaceFlag, type HostInterfaceFlagError } from './flags.js';
export { HOST_INTERFACE_ERROR_STATUS, hostInterfaceControl, hostInterfaceRoutes, type HostInterfaceControl } from './control-routes.js';
