/** MemoryNetwork against the Transport conformance suite of synod/testing. */
import { describe, it } from 'vitest';
import { MemoryNetwork } from '../../src/index.js';
import { transportConformance } from '../../src/testing/index.js';

let network = new MemoryNetwork();
transportConformance(
  'MemoryNetwork',
  {
    setup: async () => {
      network = new MemoryNetwork();
    },
    create: (id) => network.transport(id),
  },
  { describe, it },
);

let delayed = new MemoryNetwork();
transportConformance(
  'MemoryNetwork with delays and a small in-flight bound',
  {
    setup: async () => {
      delayed = new MemoryNetwork({ delayMs: { min: 0, max: 3 }, inflightMax: 1_000 });
    },
    create: (id) => delayed.transport(id),
  },
  { describe, it },
);
