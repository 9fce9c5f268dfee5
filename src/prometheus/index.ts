/**
 * synod/prometheus: synod's metrics in a prom-client registry of your own. The node,
 * the TCP transport and the KV server keep their counts (`node.metrics()`,
 * `transport.stats`, `server.metrics()`); these helpers register families that read
 * them at scrape time, so nothing is counted twice. prom-client is loaded only by this
 * subpath (and `synod serve`): the core, `synod`, `synod/kv` and `synod/testing` never
 * import it. See docs/operations.md, "Metrics and health", for every name.
 * @packageDocumentation
 */
export type { RegisterOptions, Registered, Labels } from './families.js';
export { registerNodeMetrics, type NodeMetricsSource } from './node-metrics.js';
export { registerTcpTransportMetrics, type TcpMetricsSource, type TcpMetricsReading } from './tcp-metrics.js';
export { registerKvServerMetrics, type KvServerMetricsSource, type KvStoreReading } from './kv-server-metrics.js';
