/**
 * Many consensus groups in one process: a {@link GroupHost} runs one node per group over
 * one shared transport, each group with its own members, log and state machine.
 * @packageDocumentation
 */
export {
  GroupHost,
  type GroupHostOptions,
  type GroupOptions,
  type GroupHostCounts,
  type GroupDropReason,
  type GroupQuiescence,
  type HostedGroupOptions,
} from './group-host.js';
export { GroupTransport } from './group-transport.js';
export { DuplicateGroupError, UnknownGroupError } from './group-errors.js';
