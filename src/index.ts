/**
 * synod: embeddable Multi-Paxos. The root entry exports the pure protocol core.
 * @packageDocumentation
 */
export * from './core/index.js';
