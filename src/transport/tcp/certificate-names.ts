import type { PeerCertificate } from 'node:tls';
import type { NodeId } from '../../core/index.js';

/**
 * The names a certificate gives its holder: the DNS names of its subjectAltName and its
 * subject's CN. A TLS peer is the node it claims only if one of them is that node's id.
 */
function certificateNames(cert: PeerCertificate | undefined): string[] {
  if (cert === undefined || cert === null || Object.keys(cert).length === 0) return [];
  const names: string[] = [];
  for (const entry of (cert.subjectaltname ?? '').split(',')) {
    const trimmed = entry.trim();
    if (trimmed.startsWith('DNS:')) names.push(trimmed.slice(4));
  }
  const cn = cert.subject?.CN;
  if (typeof cn === 'string') names.push(cn);
  return names;
}

/** Whether `cert` names node `id`. */
export function certificateNamesNode(cert: PeerCertificate | undefined, id: NodeId): boolean {
  return certificateNames(cert).includes(id);
}
