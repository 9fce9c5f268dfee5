/**
 * `synod/tcp-transport`: the Node-only {@link TcpTransport} (TCP or mutual TLS, with an
 * authenticated handshake). See docs/security.md for what it defends against.
 */
export { TcpTransport, TransportError } from './tcp-transport.js';
export type { TcpTransportOptions, TcpAddress, TcpTlsOptions } from './tcp-options.js';
export type { TcpTransportStats, TcpPeerStats } from './tcp-stats.js';
