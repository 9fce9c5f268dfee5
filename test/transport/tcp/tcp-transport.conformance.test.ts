/** TcpTransport against the Transport conformance suite of synod/testing. */
import { describe, it } from 'vitest';
import { transportConformance } from '../../../src/testing/index.js';
import { freePorts, tcpTransport, tlsOf } from './helpers.js';

let ports: number[] = [];
transportConformance(
  'TcpTransport with a shared secret',
  {
    setup: async (ids) => {
      ports = await freePorts(ids.length);
    },
    create: (id, ids) => tcpTransport(id, ids, ports),
  },
  { describe, it },
);

transportConformance(
  'TcpTransport with mutual TLS',
  {
    setup: async (ids) => {
      ports = await freePorts(ids.length);
    },
    create: (id, ids) => tcpTransport(id, ids, ports, { secret: null, tls: tlsOf(id) }),
  },
  { describe, it },
);

transportConformance(
  'TcpTransport with mutual TLS and a shared secret',
  {
    setup: async (ids) => {
      ports = await freePorts(ids.length);
    },
    create: (id, ids) => tcpTransport(id, ids, ports, { tls: tlsOf(id) }),
  },
  { describe, it },
);
